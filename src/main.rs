use clap::Parser;

fn main() {
    quiet_on_closed_stdout();
    let cli = hubdeck::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("hubdeck: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(hubdeck::cli::run(cli));
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    std::process::exit(code);
}

/// Backstop for output still written with `println!`: when the reader of stdout went away
/// (`hubdeck trusts list | head -1`), std panics with "failed printing to stdout: Broken
/// pipe". That is not a failure of the command — end quietly instead of printing a panic and
/// a backtrace. (CLI output goes through `cli::output`, which returns the error instead.)
fn quiet_on_closed_stdout() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info.payload_as_str().unwrap_or_default();
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        previous(info);
    }));
}
