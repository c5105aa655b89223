//! The real binary: its subcommands, crashes, and several processes on one database.
