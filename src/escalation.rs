//! The escalation script (CONTRACT §5): a POSIX shell script that shows a person what to
//! compare with the vendor before an unknown or pending key is approved.
