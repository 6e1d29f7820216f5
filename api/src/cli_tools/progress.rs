//! Progress bars for long work (hidden when stderr is not a terminal).

use indicatif::{ProgressBar, ProgressStyle};

/// A bar of `total` items labelled `what`.
pub(crate) fn bar(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let style =
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(what.to_string());
    bar
}

/// A `(done, total)` callback driving `bar`.
pub(crate) fn callback(bar: &ProgressBar) -> impl FnMut(u64, u64) + Send + '_ {
    move |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    }
}
