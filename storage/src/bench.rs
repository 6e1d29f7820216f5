//! The storage benchmark (library part of `opsledger bench storage`).
