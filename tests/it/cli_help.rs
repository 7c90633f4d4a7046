//! The CLI's help as an operator reads it: every flag and argument of every command says what
//! it is, and the flags every command takes sit under their own heading, apart from the
//! command's own.

use clap::CommandFactory;
use hubdeck::cli::Cli;

/// Every argument of `cmd` and its subcommands without help text, as "hubdeck users register
/// --email".
fn undocumented(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
    for a in cmd.get_arguments() {
        let id = a.get_id().as_str();
        if matches!(id, "help" | "version") || a.is_hide_set() {
            continue;
        }
        if a.get_help().is_none() && a.get_long_help().is_none() {
            let name = a
                .get_long()
                .map(|l| format!("--{l}"))
                .unwrap_or_else(|| id.to_uppercase());
            out.push(format!("{path} {name}"));
        }
    }
    for sub in cmd.get_subcommands() {
        undocumented(sub, &format!("{path} {}", sub.get_name()), out);
    }
}

#[test]
fn every_flag_and_argument_has_help_text() {
    let mut missing = Vec::new();
    undocumented(&Cli::command(), "hubdeck", &mut missing);
    assert!(missing.is_empty(), "without help text: {missing:#?}");
}

#[test]
fn global_flags_have_their_own_heading_in_every_commands_help() {
    let out = crate::support::cli::infra()
        .args(["users", "register", "--help"])
        .output()
        .expect("run hubdeck");
    let help = String::from_utf8_lossy(&out.stdout);
    let own = help.find("Options:").expect("the command's own options");
    let global = help
        .find("Global options:")
        .unwrap_or_else(|| panic!("{help}"));
    assert!(own < global, "{help}");
    let (mine, globals) = help.split_at(global);
    for flag in [
        "--email",
        "--name",
        "--organisation",
        "--role",
        "--suppress-invite",
    ] {
        assert!(
            mine.contains(flag),
            "{flag} with the command's own:\n{help}"
        );
    }
    for flag in [
        "--config",
        "--env",
        "--output",
        "--read-only",
        "--read-write",
        "--as-infrastructure",
        "--database-url ",
        "--database-url-file",
    ] {
        assert!(
            !mine.contains(flag),
            "{flag} among the command's own:\n{help}"
        );
        assert!(
            globals.contains(flag),
            "{flag} under Global options:\n{help}"
        );
    }
}

/// One user or one mandate is named either way, on every command that takes one:
/// `users set-roles alice@x --role viewer` or `--user alice@x`, `mandates update Acme` or
/// `--mandate Acme`; both at once, or neither, is a usage error.
#[test]
fn a_user_or_a_mandate_is_named_positionally_or_with_its_flag() {
    use clap::Parser;
    use hubdeck::cli::Command;
    use hubdeck::cli::mandates::MandatesCmd;
    use hubdeck::cli::users::UsersCmd;

    let user = |args: &[&str]| match Cli::try_parse_from(args).map(|c| c.command) {
        Ok(Some(Command::Users(UsersCmd::SetRoles(a)))) => Ok(a.user.to_string()),
        Ok(Some(Command::Users(UsersCmd::Disable(a)))) => Ok(a.user.to_string()),
        Ok(other) => panic!("{other:?}"),
        Err(e) => Err(e.kind()),
    };
    let email = "zara.ahmed4@example.org";
    for args in [
        vec!["hubdeck", "users", "set-roles", email, "--role", "viewer"],
        vec![
            "hubdeck",
            "users",
            "set-roles",
            "--user",
            email,
            "--role",
            "viewer",
        ],
        vec!["hubdeck", "users", "disable", email],
        vec!["hubdeck", "users", "disable", "--user", email],
    ] {
        assert_eq!(user(&args), Ok(email.to_string()), "{args:?}");
    }
    assert_eq!(
        user(&["hubdeck", "users", "disable", email, "--user", email]),
        Err(clap::error::ErrorKind::ArgumentConflict)
    );
    assert_eq!(
        user(&["hubdeck", "users", "disable"]),
        Err(clap::error::ErrorKind::MissingRequiredArgument)
    );

    let mandate = |args: &[&str]| match Cli::try_parse_from(args).map(|c| c.command) {
        Ok(Some(Command::Mandates(MandatesCmd::Update { mandate, .. }))) => mandate.to_string(),
        Ok(Some(Command::Mandates(MandatesCmd::Show { mandate }))) => mandate.to_string(),
        other => panic!("{other:?}"),
    };
    for args in [
        vec![
            "hubdeck",
            "mandates",
            "update",
            "Acme",
            "--enabled",
            "false",
        ],
        vec![
            "hubdeck",
            "mandates",
            "update",
            "--mandate",
            "Acme",
            "--enabled",
            "false",
        ],
        vec!["hubdeck", "mandates", "show", "Acme"],
        vec!["hubdeck", "mandates", "show", "--mandate", "Acme"],
    ] {
        assert_eq!(mandate(&args), "Acme", "{args:?}");
    }
}
