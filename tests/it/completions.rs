//! Shell completions and the man page, generated from the one clap definition, checked by the
//! real shells and mandoc. A missing shell or mandoc FAILS with the remedy (./test.sh installs
//! them) — never a silent skip.

use std::process::Command;

fn hubdeck(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_hubdeck"))
        .args(args)
        .output()
        .expect("run hubdeck");
    assert!(
        out.status.success(),
        "hubdeck {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn require(tool: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        crate::support::fail_missing(
            tool,
            &format!("install it (Debian/Ubuntu: apt-get install {package})"),
        );
    }
}

#[test]
fn bash_completion_registers_for_hubdeck_and_completes_subcommands() {
    require("bash", "bash");
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("hubdeck.bash");
    std::fs::write(&script, hubdeck(&["completions", "bash"]).stdout).unwrap();
    // Source it, show the registration, then ask the completion function for `hubdeck en<TAB>`.
    let probe = format!(
        "set -e; source '{}'; complete -p hubdeck; \
         COMP_WORDS=(hubdeck en); COMP_CWORD=1; COMP_LINE='hubdeck en'; COMP_POINT=10; \
         _hubdeck hubdeck en hubdeck; printf 'CANDIDATES %s\\n' \"${{COMPREPLY[*]}}\"",
        script.display()
    );
    let out = Command::new("bash").args(["-c", &probe]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.lines().any(|l| l.starts_with("complete ")
            && l.contains("-F _hubdeck")
            && l.ends_with(" hubdeck")),
        "{stdout}"
    );
    let candidates = stdout
        .lines()
        .find_map(|l| l.strip_prefix("CANDIDATES "))
        .unwrap_or_default();
    assert!(candidates.split(' ').any(|c| c == "env"), "{stdout}");
}

#[test]
fn zsh_completion_is_valid_zsh() {
    require("zsh", "zsh");
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("_hubdeck");
    let text = hubdeck(&["completions", "zsh"]).stdout;
    assert!(String::from_utf8_lossy(&text).starts_with("#compdef hubdeck"));
    std::fs::write(&script, &text).unwrap();
    let out = Command::new("zsh").arg("-n").arg(&script).output().unwrap();
    assert!(
        out.status.success(),
        "zsh -n: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // And a broken script is caught (the check can fail).
    std::fs::write(&script, "_hubdeck() {\n  case x in\n}\n").unwrap();
    let bad = Command::new("zsh").arg("-n").arg(&script).output().unwrap();
    assert!(!bad.status.success());
}

#[test]
fn every_shell_gets_a_script() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = hubdeck(&["completions", shell]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("doctor") && text.contains("env"), "{shell}");
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_hubdeck"))
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn man_page_is_lint_clean_and_renders() {
    require("mandoc", "mandoc");
    let dir = tempfile::tempdir().unwrap();
    hubdeck(&["man", "--out", dir.path().to_str().unwrap()]);
    let page = dir.path().join("hubdeck.1");
    assert_eq!(
        std::fs::read(&page).unwrap(),
        hubdeck(&["man"]).stdout,
        "--out writes what stdout shows"
    );
    let lint = Command::new("mandoc")
        .args(["-T", "lint", "-W", "warning"])
        .arg(&page)
        .output()
        .unwrap();
    assert!(
        lint.status.success() && lint.stdout.is_empty() && lint.stderr.is_empty(),
        "mandoc -T lint: {}{}",
        String::from_utf8_lossy(&lint.stdout),
        String::from_utf8_lossy(&lint.stderr)
    );
    let text = Command::new("mandoc")
        .args(["-T", "utf8"])
        .arg(&page)
        .output()
        .unwrap();
    // Bold and underline come as overstrikes (`X\bX`, `_\bX`): keep the last character.
    let mut rendered = String::new();
    for c in String::from_utf8_lossy(&text.stdout).chars() {
        if c == '\u{8}' {
            rendered.pop();
        } else {
            rendered.push(c);
        }
    }
    for want in [
        "NAME",
        "SYNOPSIS",
        "hubdeck",
        "--env",
        "doctor",
        "completions",
    ] {
        assert!(rendered.contains(want), "{want} missing:\n{rendered}");
    }
}

/// Every CLI list takes the same paging flags (one flattened `PageArgs`) with one sort syntax,
/// and its help says so; the completion script offers them too.
#[test]
fn every_list_has_the_same_paging_flags_and_one_sort_syntax() {
    let lists: [&[&str]; 6] = [
        &["mandates", "list"],
        &["mandates", "members", "list"],
        &["users", "list"],
        &["trusts", "list"],
        &["kit-slots", "list"],
        &["audit", "list"],
    ];
    for cmd in lists {
        let mut args = cmd.to_vec();
        args.push("--help");
        let help = String::from_utf8_lossy(&hubdeck(&args).stdout).to_string();
        for flag in [
            "--page <PAGE>",
            "--after <CURSOR>",
            "--page-size <PAGE_SIZE>",
            "--search <SEARCH>",
            "--filter <COLUMN=VALUES>",
            "--sort <COLUMN[:asc|desc]>",
        ] {
            assert!(help.contains(flag), "{cmd:?} --help lacks {flag}:\n{help}");
        }
        assert!(
            !help.contains("prefix `-`"),
            "{cmd:?} --help still offers the `-COLUMN` sort:\n{help}"
        );
    }
    let bash = String::from_utf8_lossy(&hubdeck(&["completions", "bash"]).stdout).to_string();
    assert!(bash.contains("--sort") && bash.contains("--page-size"));
}
