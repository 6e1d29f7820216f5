"""Independent reference verifier for Merkle tree proofs, checkpoints and cosignatures.

Written from the text of the specifications only, NOT from this project's Rust
code, so that the Rust tests can compare the project against a second,
separately derived implementation:

  * RFC 9162 (Certificate Transparency v2), section 2.1: the Merkle Tree Hash
    MTH over SHA-256 (2.1.1), leaf hash SHA-256(0x00 || leaf), node hash
    SHA-256(0x01 || left || right), empty tree SHA-256(""); 2.1.3.2 "Verifying
    an Inclusion Proof" and 2.1.4.2 "Verifying Consistency between Two Tree
    Heads", every numbered step implemented literally, every rejection kept.
  * C2SP signed-note (c2sp.org/signed-note), tlog-checkpoint
    (c2sp.org/tlog-checkpoint) and tlog-cosignature (c2sp.org/tlog-cosignature,
    the Ed25519 "cosignature/v1" type, signature type byte 0x04).

Ed25519 is the `cryptography` package's (pinned in requirements.txt).

    python rfc9162.py              # serve JSON Lines on stdin/stdout
    python rfc9162.py --self-test  # check itself, print "self-test ok", exit 0 (else exit 1)

Protocol: one JSON object per line on stdin, one JSON object per line on stdout
(flushed after each), in order; lines that are empty or only whitespace are
skipped without an answer. All hashes and byte strings are lowercase hex (an
even number of [0-9a-f]); hashes are 32 bytes. Integers are JSON integers in
0..2^64-1. If a request carries "id", the answer carries the same "id".
Any malformed request is answered {"ok":false,"error":"..."}; the process does
not exit on bad input.

  {"op":"leaf_hash","leaf":"<hex>"}
      -> {"ok":true,"hash":"<hex SHA-256(0x00||leaf)>"}
  {"op":"root","leaves":["<hex>",...]}
      -> {"ok":true,"hash":"<hex MTH(leaves)>"}   (recursive RFC 9162 2.1.1; [] -> SHA-256(""))
  {"op":"inclusion","leaf":"<hex record bytes>","index":N,"tree_size":T,
   "path":["<hex>",...],"root":"<hex>"}
      -> {"ok":true} | {"ok":false,"error":"..."}
      ("leaf_hash":"<hex 32 bytes>" may be given instead of "leaf")
  {"op":"consistency","first":M,"second":N,"proof":["<hex>",...],
   "first_root":"<hex>","second_root":"<hex>"}
      -> {"ok":true} | {"ok":false,"error":"..."}
  {"op":"checkpoint","note":"<whole signed note>","vkey":"<name>+<8 hex>+<base64(0x01||pubkey)>"}
      -> {"ok":true,"origin":"...","size":N,"root":"<hex>","extensions":["...",...]}
       | {"ok":false,"error":"..."}
  {"op":"cosignature","note":"<whole signed note>","vkey":"<name>+<8 hex>+<base64(0x04||pubkey)>"}
      -> {"ok":true,"timestamp":N} | {"ok":false,"error":"..."}

Choices where the texts leave room (all stated so a disagreement is visible):
  * Consistency: RFC 9162 2.1.4.2 is stated for 0 < first < second. Outside it:
    first > second fails; first == 0 is accepted only with an empty proof and
    first_root == SHA-256("") (the empty tree is a prefix of every tree);
    first == second (> 0) is accepted only with an empty proof and
    first_root == second_root.
  * Every proof node and root must be exactly 32 bytes.
  * Base64 (RFC 4648 section 4, padded) must be canonical: it must re-encode to
    the same string.
  * A note: valid UTF-8 (a JSON string with a lone surrogate is refused), no
    character below U+0020 but newline, ends in newline; the text is
    everything up to and including the newline before the LAST blank line;
    after it one or more lines "<U+2014> <name> <base64(4-byte key id ||
    signature)>", a name being non-empty without Unicode spaces or '+', the
    decoded signature at least 5 bytes. A malformed signature line makes the
    note malformed, even one of an unknown key. Lines of other keys (another
    name or another key id) are ignored; every line whose name AND key id are
    the asked key's must verify (one failing refuses the note) and there must
    be at least one.
  * A vkey "<name>+<key id>+<base64>" is split at its first two '+' (the
    base64 may itself contain '+'); the key id is 8 hex digits and must equal
    SHA-256(name || 0x0A || type byte || 32-byte key)[:4]; the type byte must
    be 0x01 for "checkpoint" and 0x04 for "cosignature".
  * A checkpoint text: at least three non-empty lines; origin; tree size as
    ASCII decimal without leading zeros ("0" for the empty tree) and at most
    2^64-1; base64 root that decodes to exactly 32 bytes; then extension lines,
    each non-empty. The key name need not equal the origin (the spec says
    SHOULD). The "cosignature" op also requires the text to be a checkpoint.
  * A cosignature/v1 line's signature is 8-byte big-endian timestamp || 64-byte
    Ed25519 signature over "cosignature/v1\\ntime <decimal>\\n" || note text;
    a timestamp above 2^63-1 is refused. The answer's timestamp is the first
    verifying line's.
"""

import base64
import hashlib
import json
import re
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

HASH_SIZE = 32
U64_MAX = 2**64 - 1
EM_DASH = "\u2014"
SIG_TYPE_ED25519 = 0x01
SIG_TYPE_COSIGNATURE_V1 = 0x04


class Refused(Exception):
    """A proof, note or request that does not verify or is malformed."""


# --------------------------------------------------------------------------
# RFC 9162 section 2.1: hashing
# --------------------------------------------------------------------------


def sha256(data):
    return hashlib.sha256(data).digest()


EMPTY_ROOT = sha256(b"")


def hash_leaf(leaf):
    """MTH({d(0)}) = HASH(0x00 || d(0))."""
    return sha256(b"\x00" + leaf)


def hash_children(left, right):
    """HASH(0x01 || MTH(left) || MTH(right))."""
    return sha256(b"\x01" + left + right)


def largest_power_of_two_below(n):
    """The k of RFC 9162 2.1.1: the largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves):
    """RFC 9162 2.1.1, the recursive definition, over a list of leaf byte strings."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return hash_leaf(leaves[0])
    k = largest_power_of_two_below(n)
    return hash_children(mth(leaves[:k]), mth(leaves[k:]))


def lsb(x):
    return x & 1 == 1


# --------------------------------------------------------------------------
# RFC 9162 2.1.3.2: Verifying an Inclusion Proof
# --------------------------------------------------------------------------


def verify_inclusion(leaf_hash, leaf_index, tree_size, inclusion_path, root_hash):
    """Raises Refused unless the inclusion_path proves leaf_hash at leaf_index."""
    # 1. leaf_index >= tree_size fails.
    if leaf_index >= tree_size:
        raise Refused("inclusion: leaf_index %d >= tree_size %d" % (leaf_index, tree_size))
    # 2. fn = leaf_index, sn = tree_size - 1.
    fn = leaf_index
    sn = tree_size - 1
    # 3. r = hash.
    r = leaf_hash
    # 4. For each value p in the inclusion_path array:
    for p in inclusion_path:
        # a. If sn is 0, stop and fail.
        if sn == 0:
            raise Refused("inclusion: path longer than the tree (sn reached 0)")
        # b. If LSB(fn) is set, or if fn is equal to sn:
        if lsb(fn) or fn == sn:
            # i. r = HASH(0x01 || p || r)
            r = hash_children(p, r)
            # ii. If LSB(fn) is not set, right-shift fn and sn equally until
            #     either LSB(fn) is set or fn is 0.
            if not lsb(fn):
                while not (lsb(fn) or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            # Otherwise: r = HASH(0x01 || r || p)
            r = hash_children(r, p)
        # c. Right-shift both fn and sn one time.
        fn >>= 1
        sn >>= 1
    # 5. sn must be 0 and r must equal root_hash.
    if sn != 0:
        raise Refused("inclusion: path too short (sn is %d after the path)" % sn)
    if r != root_hash:
        raise Refused("inclusion: computed root does not match")


# --------------------------------------------------------------------------
# RFC 9162 2.1.4.2: Verifying Consistency between Two Tree Heads
# --------------------------------------------------------------------------


def verify_consistency(first, second, consistency_path, first_hash, second_hash):
    """Raises Refused unless the proof shows tree `first` is a prefix of tree `second`."""
    if first > second:
        raise Refused("consistency: first %d > second %d" % (first, second))
    if first == 0:
        # Outside 2.1.4.2 (0 < first): nothing to prove for the empty tree.
        if consistency_path:
            raise Refused("consistency: first == 0 needs an empty proof")
        if first_hash != EMPTY_ROOT:
            raise Refused("consistency: first == 0 but first_root is not SHA-256(\"\")")
        return
    if first == second:
        # Outside 2.1.4.2 (first < second): PROOF(m, D[m]) = SUBPROOF(m, D[m], true) = {}.
        if consistency_path:
            raise Refused("consistency: first == second needs an empty proof")
        if first_hash != second_hash:
            raise Refused("consistency: first == second but the roots differ")
        return
    path = list(consistency_path)
    # 1. If consistency_path is an empty array, stop and fail.
    if not path:
        raise Refused("consistency: empty proof for first < second")
    # 2. If first is an exact power of 2, prepend first_hash.
    if first & (first - 1) == 0:
        path.insert(0, first_hash)
    # 3. fn = first - 1, sn = second - 1.
    fn = first - 1
    sn = second - 1
    # 4. If LSB(fn) is set, right-shift fn and sn equally until LSB(fn) is not set.
    while lsb(fn):
        fn >>= 1
        sn >>= 1
    # 5. fr = sr = the first value in the consistency_path array.
    fr = path[0]
    sr = path[0]
    # 6. For each subsequent value c in the consistency_path array:
    for c in path[1:]:
        # a. If sn is 0, stop and fail.
        if sn == 0:
            raise Refused("consistency: proof longer than needed (sn reached 0)")
        # b. If LSB(fn) is set, or if fn is equal to sn:
        if lsb(fn) or fn == sn:
            # i. fr = HASH(0x01 || c || fr)
            fr = hash_children(c, fr)
            # ii. sr = HASH(0x01 || c || sr)
            sr = hash_children(c, sr)
            # iii. If LSB(fn) is not set, right-shift fn and sn equally until
            #      either LSB(fn) is set or fn is 0.
            if not lsb(fn):
                while not (lsb(fn) or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            # Otherwise: sr = HASH(0x01 || sr || c)
            sr = hash_children(sr, c)
        # c. Right-shift both fn and sn one time.
        fn >>= 1
        sn >>= 1
    # 7. fr == first_hash, sr == second_hash and sn == 0.
    if sn != 0:
        raise Refused("consistency: proof too short (sn is %d after the proof)" % sn)
    if fr != first_hash:
        raise Refused("consistency: computed first root does not match")
    if sr != second_hash:
        raise Refused("consistency: computed second root does not match")


# --------------------------------------------------------------------------
# C2SP signed-note, tlog-checkpoint, tlog-cosignature
# --------------------------------------------------------------------------

_B64_RE = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_SIZE_RE = re.compile(r"0|[1-9][0-9]*")
_KEY_ID_RE = re.compile(r"[0-9A-Fa-f]{8}")


def b64decode_strict(s, what):
    if len(s) % 4 != 0 or not _B64_RE.fullmatch(s):
        raise Refused("%s: not padded standard base64" % what)
    try:
        data = base64.b64decode(s, validate=True)
    except ValueError:
        raise Refused("%s: not base64" % what)
    if base64.b64encode(data).decode("ascii") != s:
        raise Refused("%s: non-canonical base64" % what)
    return data


def check_key_name(name, what):
    if not name:
        raise Refused("%s: empty key name" % what)
    for ch in name:
        if ch == "+" or ch.isspace():
            raise Refused("%s: key name contains a space or '+'" % what)


def key_id(name, sig_type, public_key):
    """SHA-256(key name || 0x0A || signature type || public key)[:4]."""
    return sha256(name.encode("utf-8") + b"\n" + bytes([sig_type]) + public_key)[:4]


def parse_vkey(vkey, sig_type):
    """Returns (name, 4-byte key id, Ed25519PublicKey)."""
    if not isinstance(vkey, str):
        raise Refused("vkey: not a string")
    parts = vkey.split("+", 2)
    if len(parts) != 3:
        raise Refused("vkey: not <name>+<key id>+<base64 key>")
    name, id_hex, key_b64 = parts
    check_key_name(name, "vkey")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise Refused("vkey: name is not valid UTF-8")
    if not _KEY_ID_RE.fullmatch(id_hex):
        raise Refused("vkey: key id is not 8 hex digits")
    key = b64decode_strict(key_b64, "vkey")
    if len(key) < 1:
        raise Refused("vkey: no key type byte")
    if key[0] != sig_type:
        raise Refused("vkey: key type 0x%02x, expected 0x%02x" % (key[0], sig_type))
    public = key[1:]
    if len(public) != 32:
        raise Refused("vkey: Ed25519 key is %d bytes, not 32" % len(public))
    kid = bytes.fromhex(id_hex)
    if key_id(name, sig_type, public) != kid:
        raise Refused("vkey: key id does not match SHA-256(name || 0x0A || type || key)[:4]")
    try:
        pub = Ed25519PublicKey.from_public_bytes(public)
    except Exception as e:  # noqa: BLE001 - any refusal of the key bytes
        raise Refused("vkey: bad Ed25519 key: %s" % e)
    return name, kid, pub


def split_note(note):
    """Returns (text, [(name, key id bytes, signature bytes), ...])."""
    if not isinstance(note, str):
        raise Refused("note: not a string")
    try:
        note.encode("utf-8")
    except UnicodeEncodeError:
        raise Refused("note: not valid UTF-8")
    for ch in note:
        if ch < " " and ch != "\n":
            raise Refused("note: control character U+%04X" % ord(ch))
    if not note.endswith("\n"):
        raise Refused("note: does not end in a newline")
    split = note.rfind("\n\n")
    if split < 0:
        raise Refused("note: no blank line before the signatures")
    text = note[: split + 1]
    block = note[split + 2 :]
    if not block:
        raise Refused("note: no signature lines")
    sigs = []
    for line in block[:-1].split("\n"):
        if not line.startswith(EM_DASH + " "):
            raise Refused("note: signature line does not start with U+2014 and a space")
        fields = line[2:].split(" ")
        if len(fields) != 2:
            raise Refused("note: signature line is not '<name> <base64>'")
        name, sig_b64 = fields
        check_key_name(name, "note signature line")
        blob = b64decode_strict(sig_b64, "note signature")
        if len(blob) < 5:
            raise Refused("note: signature shorter than key id and one byte")
        sigs.append((name, blob[:4], blob[4:]))
    return text, sigs


def signatures_of(sigs, name, kid):
    """The signatures whose name AND key id are the key's; others are ignored."""
    mine = [sig for (n, k, sig) in sigs if n == name and k == kid]
    if not mine:
        raise Refused("note: no signature line by %s+%s" % (name, kid.hex()))
    return mine


def ed25519_verify(pub, signature, message):
    if len(signature) != 64:
        raise Refused("note: Ed25519 signature is %d bytes, not 64" % len(signature))
    try:
        pub.verify(signature, message)
    except InvalidSignature:
        raise Refused("note: a signature by the known key does not verify")


def parse_checkpoint(text):
    """Returns (origin, size, root bytes, extension lines)."""
    if not text.endswith("\n"):
        raise Refused("checkpoint: text does not end in a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise Refused("checkpoint: fewer than three lines")
    for line in lines:
        if not line:
            raise Refused("checkpoint: empty line in the text")
    origin, size_s, root_b64 = lines[0], lines[1], lines[2]
    if not _SIZE_RE.fullmatch(size_s):
        raise Refused("checkpoint: tree size is not decimal without leading zeros")
    size = int(size_s)
    if size > U64_MAX:
        raise Refused("checkpoint: tree size above 2^64-1")
    root = b64decode_strict(root_b64, "checkpoint root")
    if len(root) != HASH_SIZE:
        raise Refused("checkpoint: root hash is %d bytes, not 32" % len(root))
    return origin, size, root, lines[3:]


def verify_checkpoint(note, vkey):
    name, kid, pub = parse_vkey(vkey, SIG_TYPE_ED25519)
    text, sigs = split_note(note)
    for sig in signatures_of(sigs, name, kid):
        ed25519_verify(pub, sig, text.encode("utf-8"))
    return parse_checkpoint(text)


def cosignature_message(timestamp, text):
    return b"cosignature/v1\ntime " + str(timestamp).encode("ascii") + b"\n" + text.encode("utf-8")


def verify_cosignature(note, vkey):
    name, kid, pub = parse_vkey(vkey, SIG_TYPE_COSIGNATURE_V1)
    text, sigs = split_note(note)
    first_ts = None
    for sig in signatures_of(sigs, name, kid):
        if len(sig) != 8 + 64:
            raise Refused("cosignature: signature is %d bytes, not 8 + 64" % len(sig))
        timestamp = int.from_bytes(sig[:8], "big")
        if timestamp > 2**63 - 1:
            raise Refused("cosignature: timestamp above 2^63-1")
        ed25519_verify(pub, sig[8:], cosignature_message(timestamp, text))
        if first_ts is None:
            first_ts = timestamp
    parse_checkpoint(text)
    return first_ts


# --------------------------------------------------------------------------
# The JSON Lines protocol
# --------------------------------------------------------------------------

_HEX_RE = re.compile(r"(?:[0-9a-f]{2})*")


def req_field(req, key):
    if key not in req:
        raise Refused("request: missing %r" % key)
    return req[key]


def req_hex(req, key):
    v = req_field(req, key)
    if not isinstance(v, str) or not _HEX_RE.fullmatch(v):
        raise Refused("request: %r is not lowercase hex" % key)
    return bytes.fromhex(v)


def hex_value(v, what, size=None):
    if not isinstance(v, str) or not _HEX_RE.fullmatch(v):
        raise Refused("request: %s is not lowercase hex" % what)
    b = bytes.fromhex(v)
    if size is not None and len(b) != size:
        raise Refused("request: %s is %d bytes, not %d" % (what, len(b), size))
    return b


def req_hash(req, key):
    return hex_value(req_field(req, key), repr(key), HASH_SIZE)


def req_hash_list(req, key):
    v = req_field(req, key)
    if not isinstance(v, list):
        raise Refused("request: %r is not a list" % key)
    return [hex_value(x, "%r[%d]" % (key, i), HASH_SIZE) for i, x in enumerate(v)]


def req_uint(req, key):
    v = req_field(req, key)
    if type(v) is not int or v < 0 or v > U64_MAX:
        raise Refused("request: %r is not an integer in 0..2^64-1" % key)
    return v


def req_str(req, key):
    v = req_field(req, key)
    if not isinstance(v, str):
        raise Refused("request: %r is not a string" % key)
    return v


def op_leaf_hash(req):
    return {"hash": hash_leaf(req_hex(req, "leaf")).hex()}


def op_root(req):
    leaves = req_field(req, "leaves")
    if not isinstance(leaves, list):
        raise Refused("request: 'leaves' is not a list")
    data = [hex_value(x, "'leaves'[%d]" % i) for i, x in enumerate(leaves)]
    return {"hash": mth(data).hex()}


def op_inclusion(req):
    if ("leaf" in req) == ("leaf_hash" in req):
        raise Refused("request: give exactly one of 'leaf' and 'leaf_hash'")
    lh = hash_leaf(req_hex(req, "leaf")) if "leaf" in req else req_hash(req, "leaf_hash")
    verify_inclusion(
        lh, req_uint(req, "index"), req_uint(req, "tree_size"), req_hash_list(req, "path"), req_hash(req, "root")
    )
    return {}


def op_consistency(req):
    verify_consistency(
        req_uint(req, "first"),
        req_uint(req, "second"),
        req_hash_list(req, "proof"),
        req_hash(req, "first_root"),
        req_hash(req, "second_root"),
    )
    return {}


def op_checkpoint(req):
    origin, size, root, ext = verify_checkpoint(req_str(req, "note"), req_str(req, "vkey"))
    return {"origin": origin, "size": size, "root": root.hex(), "extensions": ext}


def op_cosignature(req):
    return {"timestamp": verify_cosignature(req_str(req, "note"), req_str(req, "vkey"))}


OPS = {
    "leaf_hash": op_leaf_hash,
    "root": op_root,
    "inclusion": op_inclusion,
    "consistency": op_consistency,
    "checkpoint": op_checkpoint,
    "cosignature": op_cosignature,
}


def handle(req):
    """One request object (already parsed) to one answer object."""
    answer = {}
    try:
        if not isinstance(req, dict):
            raise Refused("request: not a JSON object")
        if "id" in req:
            answer["id"] = req["id"]
        op = req.get("op")
        if not isinstance(op, str) or op not in OPS:
            raise Refused("request: unknown op %r" % (op,))
        result = OPS[op](req)
        answer["ok"] = True
        answer.update(result)
    except Refused as e:
        answer["ok"] = False
        answer["error"] = str(e)
    except Exception as e:  # noqa: BLE001 - never die on a request
        answer["ok"] = False
        answer["error"] = "internal: %s: %s" % (type(e).__name__, e)
    return answer


def handle_line(raw):
    """One input line (bytes) to one output line (str without newline), or None to skip."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        return json.dumps({"ok": False, "error": "request: line is not UTF-8"})
    if not line.strip():
        return None
    try:
        req = json.loads(line)
    except (ValueError, RecursionError) as e:
        return json.dumps({"ok": False, "error": "request: not JSON: %s" % e})
    answer = handle(req)
    try:
        return json.dumps(answer)
    except (TypeError, ValueError) as e:
        return json.dumps({"ok": False, "error": "internal: cannot encode the answer: %s" % e})


def serve():
    stdin = sys.stdin.buffer
    stdout = sys.stdout
    while True:
        raw = stdin.readline()
        if not raw:
            return 0
        out = handle_line(raw)
        if out is not None:
            stdout.write(out + "\n")
            stdout.flush()


# ==========================================================================
# SELF-TEST ONLY below this line. The proof GENERATORS here are written from
# RFC 9162 2.1.3.1 (PATH) and 2.1.4.1 (PROOF/SUBPROOF) and are used by
# --self-test alone, never by the verifier above.
# ==========================================================================


def gen_path(m, lo, hi):
    """PATH(m, D[lo:hi]) as [((a, b), side)], node = MTH(D[a:b]); side 'R' or 'L'
    tells where the sibling stands. Per 2.1.3.1: PATH(0, {d(0)}) = {}; with k the
    largest power of two below n: m < k -> PATH(m, D[0:k]) : MTH(D[k:n]);
    m >= k -> PATH(m - k, D[k:n]) : MTH(D[0:k])."""
    n = hi - lo
    if n == 1:
        return []
    k = largest_power_of_two_below(n)
    if m < k:
        return gen_path(m, lo, lo + k) + [((lo + k, hi), "R")]
    return gen_path(m - k, lo + k, hi) + [((lo, lo + k), "L")]


def gen_subproof(m, lo, hi, b):
    """SUBPROOF(m, D[lo:hi], b) as [((a, b), role)]. Per 2.1.4.1:
    SUBPROOF(m, D[m], true) = {}; SUBPROOF(m, D[m], false) = {MTH(D[m])};
    m <= k -> SUBPROOF(m, D[0:k], b) : MTH(D[k:n]);
    m > k  -> SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])."""
    n = hi - lo
    if m == n:
        return [] if b else [((lo, hi), "start")]
    k = largest_power_of_two_below(n)
    if m <= k:
        return gen_subproof(m, lo, lo + k, b) + [((lo + k, hi), "right")]
    return gen_subproof(m - k, lo + k, hi, False) + [((lo, lo + k), "left")]


def gen_proof(m, n):
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true), for 0 < m < n."""
    return gen_subproof(m, 0, n, True)


class SelfTest:
    def __init__(self):
        self.failures = []
        self.checks = 0

    def expect(self, cond, what):
        self.checks += 1
        if not cond:
            self.failures.append(what)

    def call(self, req):
        # Through the JSON layer both ways, as the Rust tests use it.
        out = handle_line((json.dumps(req) + "\n").encode("utf-8"))
        return json.loads(out)

    def accepts(self, req):
        return self.call(req).get("ok") is True


def flip_bit(h, i):
    b = bytearray(h)
    b[i % len(b)] ^= 1 << (i % 8)
    return bytes(b)


def incl_expected(index, size, claimed_index, claimed_size):
    """Whether a correct RFC verifier accepts the proof for (index, size) when
    told (claimed_index, claimed_size): exactly when the sibling sides of PATH
    agree (same nodes combined in the same order); else a length or root mismatch."""
    if claimed_index >= claimed_size:
        return False
    return [s for _, s in gen_path(index, 0, size)] == [s for _, s in gen_path(claimed_index, 0, claimed_size)]


def cons_shape(m, n):
    if m == 0:
        return ("empty-first",)
    if m == n:
        return ("same",)
    return tuple(r for _, r in gen_proof(m, n))


def cons_expected(m, n, cm, cn):
    """Whether a correct verifier accepts the proof for (m, n) (real roots) when told (cm, cn)."""
    if cm > cn:
        return False
    if cm == 0:
        return m == 0  # empty proof and first_root == SHA-256("") only if really m == 0
    if cm == cn:
        return m == n  # empty proof and equal roots only if really m == n
    if m == 0 or m == n:
        return False  # empty proof for cm < cn: step 1
    return cons_shape(m, n) == cons_shape(cm, cn)


def self_test_merkle(t):
    # Known answers: the RFC 6962 test leaves of the certificate-transparency
    # reference tests and their published roots (an outside check of MTH).
    kat_leaves = [bytes.fromhex(x) for x in ["", "00", "10", "2021", "3031", "40414243",
                                             "5051525354555657", "606162636465666768696a6b6c6d6e6f"]]
    kat_roots = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
    for n in range(9):
        got = t.call({"op": "root", "leaves": [x.hex() for x in kat_leaves[:n]]})
        t.expect(got == {"ok": True, "hash": kat_roots[n]}, "KAT root of %d leaves: %r" % (n, got))
    # Published consistency proof PROOF(1, 8) and PROOF(6, 8) of the same tests.
    kat_cons = {
        (1, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                 "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                 "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
        (6, 8): ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                 "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                 "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
    }
    for (m, n), proof in kat_cons.items():
        req = {"op": "consistency", "first": m, "second": n, "proof": proof,
               "first_root": kat_roots[m], "second_root": kat_roots[n]}
        t.expect(t.accepts(req), "KAT consistency %d->%d" % (m, n))
        gen = [mth(kat_leaves[a:b]).hex() for (a, b), _ in gen_proof(m, n)]
        t.expect(gen == proof, "generator reproduces KAT PROOF(%d, %d)" % (m, n))
    t.expect(t.call({"op": "leaf_hash", "leaf": ""})["hash"] == kat_roots[1], "leaf_hash of empty leaf")

    stats = {"incl": 0, "cons": 0, "incl_size_accepted": 0, "cons_size_accepted": 0}
    extra = sha256(b"extra node").hex()
    for n in range(1, 65):
        leaves = [b"leaf-%d" % i for i in range(n)]
        memo = {}

        def node(a, b, leaves=leaves, memo=memo):
            if (a, b) not in memo:
                memo[(a, b)] = mth(leaves[a:b])
            return memo[(a, b)]

        root = node(0, n).hex()
        t.expect(t.call({"op": "root", "leaves": [x.hex() for x in leaves]})["hash"] == root, "root %d" % n)

        # Inclusion, every leaf.
        for i in range(n):
            path = [node(a, b).hex() for (a, b), _ in gen_path(i, 0, n)]
            base = {"op": "inclusion", "leaf": leaves[i].hex(), "index": i, "tree_size": n,
                    "path": path, "root": root}
            stats["incl"] += 1
            t.expect(t.accepts(base), "inclusion %d/%d accepted" % (i, n))
            by_hash = {k: v for k, v in base.items() if k != "leaf"}
            by_hash["leaf_hash"] = hash_leaf(leaves[i]).hex()
            t.expect(t.accepts(by_hash), "inclusion %d/%d by leaf_hash" % (i, n))
            t.expect(not t.accepts(dict(by_hash, leaf=base["leaf"])), "both leaf and leaf_hash refused")
            t.expect(not t.accepts(dict(base, path=path + [extra])), "inclusion %d/%d node appended" % (i, n))
            t.expect(not t.accepts(dict(base, path=path + [path[-1]] if path else [root])),
                     "inclusion %d/%d last node repeated" % (i, n))
            if path:
                t.expect(not t.accepts(dict(base, path=path[:-1])), "inclusion %d/%d last removed" % (i, n))
                t.expect(not t.accepts(dict(base, path=path[1:])), "inclusion %d/%d first removed" % (i, n))
            for j in range(len(path)):
                bad = list(path)
                bad[j] = flip_bit(bytes.fromhex(bad[j]), 7 * j + i).hex()
                t.expect(not t.accepts(dict(base, path=bad)), "inclusion %d/%d bit flip node %d" % (i, n, j))
            t.expect(not t.accepts(dict(base, root=flip_bit(bytes.fromhex(root), i).hex())),
                     "inclusion %d/%d bit flip root" % (i, n))
            t.expect(not t.accepts(dict(base, leaf=(leaves[i] + b"x").hex())), "inclusion %d/%d wrong leaf" % (i, n))
            for ci in {i - 1, i + 1, n, n + 5, 0, n - 1} - {i}:
                if ci < 0:
                    continue
                t.expect(not t.accepts(dict(base, index=ci)), "inclusion %d/%d wrong index %d" % (i, n, ci))
                t.expect(not incl_expected(i, n, ci, n), "oracle: wrong index %d never fits" % ci)
            for cn in {n - 1, n + 1, n + 2, 2 * n, i, 0}:
                if cn == n or cn < 0:
                    continue
                want = incl_expected(i, n, i, cn)
                got = t.accepts(dict(base, tree_size=cn))
                t.expect(got == want, "inclusion %d/%d told size %d: got %s want %s" % (i, n, cn, got, want))
                stats["incl_size_accepted"] += got
            t.expect(not t.accepts(dict(base, index=n, tree_size=n)), "inclusion index == tree_size")

        # Consistency, every earlier size including 0 and n itself.
        for m in range(0, n + 1):
            first_root = node(0, m).hex() if m else EMPTY_ROOT.hex()
            proof = [node(a, b).hex() for (a, b), _ in gen_proof(m, n)] if 0 < m < n else []
            base = {"op": "consistency", "first": m, "second": n, "proof": proof,
                    "first_root": first_root, "second_root": root}
            stats["cons"] += 1
            t.expect(t.accepts(base), "consistency %d->%d accepted" % (m, n))
            t.expect(not t.accepts(dict(base, proof=proof + [extra])), "consistency %d->%d appended" % (m, n))
            if proof:
                t.expect(not t.accepts(dict(base, proof=proof[:-1])), "consistency %d->%d last removed" % (m, n))
                t.expect(not t.accepts(dict(base, proof=proof[1:])), "consistency %d->%d first removed" % (m, n))
                t.expect(not t.accepts(dict(base, proof=proof + [proof[-1]])),
                         "consistency %d->%d last repeated" % (m, n))
            for j in range(len(proof)):
                bad = list(proof)
                bad[j] = flip_bit(bytes.fromhex(bad[j]), 5 * j + m).hex()
                t.expect(not t.accepts(dict(base, proof=bad)), "consistency %d->%d flip node %d" % (m, n, j))
            t.expect(not t.accepts(dict(base, first_root=flip_bit(bytes.fromhex(first_root), m).hex())),
                     "consistency %d->%d flip first root" % (m, n))
            # The empty tree is a prefix of every tree: with first == 0 the second root is not constrained.
            t.expect(t.accepts(dict(base, second_root=flip_bit(bytes.fromhex(root), m).hex())) == (m == 0),
                     "consistency %d->%d flip second root" % (m, n))
            for cm, cn in {(m - 1, n), (m + 1, n), (m, n - 1), (m, n + 1), (m, n + 3), (m + 1, n + 1),
                           (n, m), (m, 2 * n), (0, n), (n, n)} - {(m, n)}:
                if cm < 0 or cn < 0:
                    continue
                want = cons_expected(m, n, cm, cn)
                got = t.accepts(dict(base, first=cm, second=cn))
                t.expect(got == want, "consistency %d->%d told %d->%d: got %s want %s" % (m, n, cm, cn, got, want))
                stats["cons_size_accepted"] += got
            if m > 0:
                # The reversed direction is always refused.
                t.expect(m == n or not t.accepts(dict(base, first=n, second=m)), "consistency reversed")
    return stats


def _b64(b):
    return base64.b64encode(b).decode("ascii")


def self_test_notes(t):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    def raw_pub(sk):
        return sk.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def vkey_of(name, sig_type, sk):
        pub = raw_pub(sk)
        return "%s+%s+%s" % (name, key_id(name, sig_type, pub).hex(), _b64(bytes([sig_type]) + pub))

    def sig_line(name, sig_type, sk, payload):
        return "%s %s %s\n" % (EM_DASH, name, _b64(key_id(name, sig_type, raw_pub(sk)) + payload))

    def log_sign(name, sk, text):
        return sig_line(name, SIG_TYPE_ED25519, sk, sk.sign(text.encode("utf-8")))

    def cosign(name, sk, text, ts):
        return sig_line(name, SIG_TYPE_COSIGNATURE_V1, sk,
                        ts.to_bytes(8, "big") + sk.sign(cosignature_message(ts, text)))

    def cp(note, vkey):
        return t.call({"op": "checkpoint", "note": note, "vkey": vkey})

    def cs(note, vkey):
        return t.call({"op": "cosignature", "note": note, "vkey": vkey})

    # Known answers from outside: the C2SP signed-note example and the Go
    # sumdb/note example (note level), and a real CT log checkpoint with an
    # Ed25519 log signature and a cosignature/v1 by a public witness.
    for vkey, note in [
        ("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
         "This is an example message.\n\n" + EM_DASH + " example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6T"
         "fXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"),
        ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
         "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n\n"
         + EM_DASH + " PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZ"
         "b6KE6RyyBwJnAM=\n"),
    ]:
        name, kid, pub = parse_vkey(vkey, SIG_TYPE_ED25519)
        text, sigs = split_note(note)
        try:
            for sig in signatures_of(sigs, name, kid):
                ed25519_verify(pub, sig, text.encode("utf-8"))
            ok = True
        except Refused:
            ok = False
        t.expect(ok, "KAT note by %s" % name)
        t.expect(cp(note, vkey)["ok"] is False, "KAT note by %s is no checkpoint" % name)
    arche = ("arche2025h1.staging.ct.transparency.dev\n1432088532\nU7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=\n\n"
             + EM_DASH + " arche2025h1.staging.ct.transparency.dev zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6hoGRE"
             "PMHbdQ3urbllzalApkptQIgIpwtEroeW2BXaHAI4kJXFbon5Ch9MNL5zRNZ55lvGt0=\n"
             + EM_DASH + " arche2025h1.staging.ct.transparency.dev ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQQabg/27lefwhUkzbC3N"
             "ygNI75MdhL1bfTW9g8Ei59RA23oHP7Ry1k3ZFWwQ=\n"
             + EM_DASH + " remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobW"
             "X9sXTynk5XeU/zZ0WBxtqB0DrAWfBw==\n")
    arche_log = "arche2025h1.staging.ct.transparency.dev+ba2f06c0+AU0vHmlGCS/PdN8b2OaGmKprLI8HKM+dJ472xgFYh15f"
    remora = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
    got = cp(arche, arche_log)
    t.expect(got.get("ok") is True and got.get("size") == 1432088532 and got.get("extensions") == []
             and got.get("origin") == "arche2025h1.staging.ct.transparency.dev"
             and got.get("root") == base64.b64decode("U7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=").hex(),
             "KAT CT checkpoint: %r" % got)
    got = cs(arche, remora)
    t.expect(got == {"ok": True, "timestamp": 0x6A122120}, "KAT cosignature: %r" % got)
    t.expect(cp(arche.replace("1432088532", "1432088533"), arche_log)["ok"] is False, "KAT checkpoint altered")
    t.expect(cs(arche.replace("1432088532", "1432088533"), remora)["ok"] is False, "KAT cosignature altered")
    t.expect(cs(arche, arche_log)["ok"] is False, "log key is not a 0x04 witness key")
    t.expect(cp(arche, remora)["ok"] is False, "witness key is not a 0x01 log key")

    # Generated keys.
    origin = "example.com/rfc9162-selftest"
    log_sk = Ed25519PrivateKey.generate()
    vkey = vkey_of(origin, SIG_TYPE_ED25519, log_sk)
    root = sha256(b"some root")
    text = "%s\n42\n%s\n" % (origin, _b64(root))
    note = text + "\n" + log_sign(origin, log_sk, text)
    got = cp(note, vkey)
    t.expect(got == {"ok": True, "origin": origin, "size": 42, "root": root.hex(), "extensions": []},
             "signed checkpoint accepted: %r" % got)
    text_ext = text + "ext one\nextension two\n"
    got = cp(text_ext + "\n" + log_sign(origin, log_sk, text_ext), vkey)
    t.expect(got.get("ok") is True and got.get("extensions") == ["ext one", "extension two"], "extensions: %r" % got)
    t.expect(cp(note.replace("\n42\n", "\n43\n"), vkey)["ok"] is False, "modified text refused")
    other_sk = Ed25519PrivateKey.generate()
    t.expect(cp(note, vkey_of("example.com/other", SIG_TYPE_ED25519, other_sk))["ok"] is False, "wrong key refused")
    t.expect(cp(note, vkey_of(origin, SIG_TYPE_ED25519, other_sk))["ok"] is False, "same name other key refused")
    # Same name, same id, bad signature: a line claiming the key that fails.
    kid = key_id(origin, SIG_TYPE_ED25519, raw_pub(log_sk))
    forged = text + "\n" + "%s %s %s\n" % (EM_DASH, origin, _b64(kid + other_sk.sign(text.encode())))
    t.expect(cp(forged, vkey)["ok"] is False, "same name and id, bad signature refused")
    # A failing line by the known key refuses the note even beside a good one.
    t.expect(cp(note + forged.split("\n\n")[1], vkey)["ok"] is False, "good + bad line by the key refused")
    # Lines of unknown keys are ignored.
    t.expect(cp(note + log_sign("example.com/other", other_sk, text), vkey)["ok"] is True, "unknown line ignored")
    t.expect(cp(log_sign("x", other_sk, text).join([text + "\n", ""]) + log_sign(origin, log_sk, text), vkey)["ok"]
             is True, "unknown line first ignored")
    # Key id in the vkey must match.
    bad_vkey = vkey.replace("+%s+" % kid.hex(), "+00000000+")
    t.expect(cp(note, bad_vkey)["ok"] is False, "vkey with wrong key id refused")
    t.expect(cp(note, vkey.replace("+%s+" % kid.hex(), "+%s+" % kid.hex().upper()))["ok"] is True, "upper hex id")

    def signed(body):
        return body + "\n" + log_sign(origin, log_sk, body)

    for body, what in [
        ("%s\n042\n%s\n" % (origin, _b64(root)), "leading zero"),
        ("%s\n-1\n%s\n" % (origin, _b64(root)), "negative size"),
        ("%s\n%d\n%s\n" % (origin, 2**64, _b64(root)), "size above u64"),
        ("%s\n42\n%s\n" % (origin, _b64(root[:31])), "31-byte root"),
        ("%s\n42\n%s\n" % (origin, _b64(root + b"\0")), "33-byte root"),
        ("%s\n42\n%s\n" % (origin, _b64(root).rstrip("=")), "unpadded root"),
        ("%s\n42\n" % origin, "two lines"),
        ("\n42\n%s\n" % _b64(root), "empty origin"),
        ("%s\n42\n%s\n\next\n" % (origin, _b64(root)), "empty line before an extension"),
        ("%s\n 42\n%s\n" % (origin, _b64(root)), "space in size"),
    ]:
        t.expect(cp(signed(body), vkey)["ok"] is False, "malformed checkpoint refused: " + what)
    t.expect(cp(signed("%s\n0\n%s\n" % (origin, _b64(EMPTY_ROOT))), vkey).get("size") == 0, "size 0 accepted")
    for bad_note, what in [
        (note.replace("\n\n", "\n"), "no blank line"),
        (note[:-1], "no final newline"),
        (note + "\n", "trailing blank line"),
        (text + "\n", "no signature line"),
        (note.replace(EM_DASH + " ", "- "), "hyphen for the em dash"),
        (note.replace(EM_DASH + " ", EM_DASH + "  "), "two spaces"),
        (note.replace("\n42\n", "\n4\t2\n"), "tab in the text"),
        (note + EM_DASH + " junk !!!!\n", "a malformed line of another key"),
    ]:
        t.expect(cp(bad_note, vkey)["ok"] is False, "malformed note refused: " + what)

    # One cosignature (plus its refusals).
    w_name = "witness.example/w1"
    w_sk = Ed25519PrivateKey.generate()
    w_vkey = vkey_of(w_name, SIG_TYPE_COSIGNATURE_V1, w_sk)
    ts = 1_700_000_123
    cosigned = note + cosign(w_name, w_sk, text, ts)
    t.expect(cs(cosigned, w_vkey) == {"ok": True, "timestamp": ts}, "cosignature accepted")
    t.expect(cp(cosigned, vkey)["ok"] is True, "log signature still verifies beside the cosignature")
    t.expect(cs(note, w_vkey)["ok"] is False, "no cosignature line refused")
    t.expect(cs(cosigned.replace("\n42\n", "\n43\n"), w_vkey)["ok"] is False, "cosigned text altered")
    # A timestamp other than the signed one.
    line = cosign(w_name, w_sk, text, ts)
    blob = bytearray(base64.b64decode(line.split(" ")[2]))
    blob[11] ^= 1
    t.expect(cs(note + "%s %s %s\n" % (EM_DASH, w_name, _b64(bytes(blob))), w_vkey)["ok"] is False, "timestamp altered")
    t.expect(cs(note + sig_line(w_name, SIG_TYPE_COSIGNATURE_V1, w_sk, w_sk.sign(text.encode())), w_vkey)["ok"]
             is False, "plain Ed25519 signature under a 0x04 key id refused")
    t.expect(cs(cosigned, vkey_of(w_name, SIG_TYPE_COSIGNATURE_V1, other_sk))["ok"] is False, "other witness key")
    t.expect(cs(cosigned, vkey_of(w_name, SIG_TYPE_ED25519, w_sk))["ok"] is False, "0x01 vkey for cosignature op")
    t.expect(cs(note + cosign(w_name, w_sk, text, 2**63), w_vkey)["ok"] is False, "timestamp above 2^63-1")
    t.expect(cs(note + cosign(w_name, w_sk, text, 0), w_vkey) == {"ok": True, "timestamp": 0}, "timestamp 0")


def self_test_requests(t):
    bad = [
        b"not json\n", b"[1,2]\n", b"{}\n", b'{"op":"nope"}\n', b'{"op":"leaf_hash"}\n',
        b'{"op":"leaf_hash","leaf":"ABCD"}\n', b'{"op":"leaf_hash","leaf":"abc"}\n',
        b'{"op":"root","leaves":"00"}\n', b'{"op":"inclusion","leaf":"00","index":-1,"tree_size":1,"path":[],'
        b'"root":"' + b"00" * 32 + b'"}\n', b'{"op":"inclusion","leaf":"00","index":true,"tree_size":1,"path":[],'
        b'"root":"' + b"00" * 32 + b'"}\n', b'{"op":"inclusion","leaf":"00","index":0,"tree_size":1.0,"path":[],'
        b'"root":"' + b"00" * 32 + b'"}\n', b'{"op":"consistency","first":1,"second":2,"proof":["00"],'
        b'"first_root":"' + b"00" * 32 + b'","second_root":"' + b"00" * 32 + b'"}\n',
        b'{"op":"checkpoint","note":"\\ud800\\n\\n","vkey":"a+00000000+AQ=="}\n', b"\xff\xfe\n",
        b'{"op":"inclusion","leaf":"00","index":0,"tree_size":18446744073709551616,"path":[],"root":"'
        + b"00" * 32 + b'"}\n',
    ]
    for raw in bad:
        out = handle_line(raw)
        t.expect(out is not None and json.loads(out).get("ok") is False, "malformed request refused: %r" % raw)
    t.expect(handle_line(b"   \n") is None, "blank line skipped")
    out = json.loads(handle_line(b'{"id":7,"op":"leaf_hash","leaf":"00"}\n'))
    t.expect(out.get("id") == 7 and out.get("ok") is True, "id echoed")
    # A one-leaf tree: root = leaf hash, empty path.
    lh = hash_leaf(b"x").hex()
    t.expect(t.accepts({"op": "inclusion", "leaf": b"x".hex(), "index": 0, "tree_size": 1, "path": [], "root": lh}),
             "one-leaf inclusion")
    t.expect(not t.accepts({"op": "inclusion", "leaf": b"x".hex(), "index": 0, "tree_size": 0, "path": [],
                            "root": EMPTY_ROOT.hex()}), "inclusion in the empty tree")
    t.expect(t.accepts({"op": "consistency", "first": 0, "second": 0, "proof": [], "first_root": EMPTY_ROOT.hex(),
                        "second_root": EMPTY_ROOT.hex()}), "0 -> 0")
    t.expect(not t.accepts({"op": "consistency", "first": 0, "second": 3, "proof": [], "first_root": lh,
                            "second_root": lh}), "0 -> 3 with a non-empty first root")


def self_test():
    t = SelfTest()
    stats = {}
    try:
        stats = self_test_merkle(t)
        self_test_notes(t)
        self_test_requests(t)
    except Exception as e:  # noqa: BLE001
        import traceback

        traceback.print_exc()
        t.failures.append("self-test raised %s: %s" % (type(e).__name__, e))
    if t.failures:
        for f in t.failures[:50]:
            print("FAIL: " + f, file=sys.stderr)
        print("self-test FAILED: %d of %d checks" % (len(t.failures), t.checks), file=sys.stderr)
        return 1
    print(
        "%d checks; %d inclusion and %d consistency proofs (trees 1..64); told another size, the RFC "
        "algorithm accepts %d inclusion and %d consistency cases whose proof shape is the same, as predicted"
        % (t.checks, stats.get("incl", 0), stats.get("cons", 0), stats.get("incl_size_accepted", 0),
           stats.get("cons_size_accepted", 0)),
        file=sys.stderr,
    )
    print("self-test ok")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        sys.exit(self_test())
    if sys.argv[1:]:
        print("usage: rfc9162.py [--self-test]", file=sys.stderr)
        sys.exit(2)
    try:
        sys.exit(serve())
    except (BrokenPipeError, KeyboardInterrupt):
        sys.exit(0)
