//! The command line (CONTRACT §1). Printing and exit codes live here and nowhere else.
