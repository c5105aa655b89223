//! The `chat-api` binary.

fn main() -> std::process::ExitCode {
    api::cli::run()
}
