//! The `medaid` binary: see the crate documentation and the README.

use clap::Parser;

fn main() -> std::process::ExitCode {
    medaid::cli::run(medaid::cli::Cli::parse())
}
