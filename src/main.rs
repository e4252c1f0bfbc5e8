//! The `medaid` binary: see the crate documentation and the README.

fn main() -> std::process::ExitCode {
    match medaid::cli::Cli::parse_with_config() {
        Ok(cli) => medaid::cli::run(cli),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
