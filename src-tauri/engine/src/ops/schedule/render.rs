//! The text each scheduler reads: a systemd user service and timer, a crontab line, a launchd
//! agent's property list, a Task Scheduler task's XML. Pure functions of an [`Entry`], each
//! quoting the command line the way its scheduler reads it back (systemd's ExecStart rules and
//! `%` specifiers, cron's `%` as newline, XML entities, the Windows argument rules).

use super::model::WEEKDAYS;

/// One scheduled command: a schedule's `lifeboat schedule run NAME`, or the daily reminder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The unit, label and task name (`lifeboat-prod-shop`, `lifeboat-remind`).
    pub name: String,
    /// One line saying what it does.
    pub description: String,
    /// The program (absolute) and its arguments.
    pub argv: Vec<String>,
    /// Variables the scheduler sets for it (LIFEBOAT_HOME …).
    pub env: Vec<(String, String)>,
    /// Weekdays, 0 = Monday; all seven for every day.
    pub days: Vec<usize>,
    pub hour: u32,
    pub minute: u32,
}

/// The prefix of launchd labels and of the Task Scheduler folder (the app's identifier).
pub const LAUNCHD_PREFIX: &str = "app.lifeboat.desktop.";

const HEADER: &str =
    "Written by Lifeboat (lifeboat schedule add); lifeboat schedule remove takes it away.";

/// systemd's `OnCalendar=`: `*-*-* 02:30:00`, `Mon,Wed,Fri *-*-* 02:30:00`.
pub fn on_calendar(days: &[usize], hour: u32, minute: u32) -> String {
    let time = format!("*-*-* {hour:02}:{minute:02}:00");
    if days.len() == 7 {
        return time;
    }
    let names: Vec<String> = days
        .iter()
        .map(|&d| {
            let day = WEEKDAYS[d];
            format!("{}{}", day[..1].to_ascii_uppercase(), &day[1..])
        })
        .collect();
    format!("{} {time}", names.join(","))
}

pub fn systemd_service(entry: &Entry) -> String {
    let mut text = format!(
        "# {HEADER}\n[Unit]\nDescription={}\n\n[Service]\nType=oneshot\n",
        specifiers(&entry.description)
    );
    for (name, value) in &entry.env {
        text.push_str(&format!("Environment={}\n", systemd_word(&format!("{name}={value}"))));
    }
    let words: Vec<String> = entry.argv.iter().map(|a| systemd_exec_word(a)).collect();
    text.push_str(&format!("ExecStart={}\n", words.join(" ")));
    text
}

pub fn systemd_timer(entry: &Entry) -> String {
    format!(
        "# {HEADER}\n[Unit]\nDescription={}\n\n[Timer]\nOnCalendar={}\nPersistent=true\n\n\
         [Install]\nWantedBy=timers.target\n",
        specifiers(&entry.description),
        on_calendar(&entry.days, entry.hour, entry.minute)
    )
}

/// `%` starts a specifier in most unit settings; `%%` is a literal percent sign.
fn specifiers(text: &str) -> String {
    text.replace('%', "%%")
}

/// A word of a unit setting: bare when it holds nothing special, else double-quoted with C-style
/// escapes; `%` doubled.
fn systemd_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+:@=,".contains(c));
    if plain {
        return specifiers(text);
    }
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '%' => out.push_str("%%"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A word of `ExecStart=`: as [`systemd_word`], and `$` doubled (ExecStart expands variables).
fn systemd_exec_word(text: &str) -> String {
    systemd_word(text).replace('$', "$$")
}

/// The words of an `ExecStart=` value, as systemd reads them (quotes, escapes, `%%`, `$$`).
pub fn parse_exec_start(value: &str) -> Vec<String> {
    let value = value.trim_start_matches(['-', '@', ':', '+', '!']);
    let mut words = Vec::new();
    let mut chars = value.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        let mut word = String::new();
        let quote = if first == '"' || first == '\'' { chars.next() } else { None };
        while let Some(c) = chars.next() {
            match c {
                c if Some(c) == quote => break,
                c if quote.is_none() && c.is_whitespace() => break,
                '\\' => match chars.next() {
                    Some('n') => word.push('\n'),
                    Some('t') => word.push('\t'),
                    Some(other) => word.push(other),
                    None => {}
                },
                '%' | '$' if chars.peek() == Some(&c) => {
                    chars.next();
                    word.push(c);
                }
                c => word.push(c),
            }
        }
        words.push(word);
    }
    words
}

/// `NAME=value` of an `Environment=` line (one assignment, as Lifeboat writes them).
pub fn parse_environment(value: &str) -> Vec<(String, String)> {
    parse_exec_start(value)
        .into_iter()
        .filter_map(|w| w.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect()
}

/// The marker line above a Lifeboat crontab entry; the entry is removed by it.
pub fn cron_marker(name: &str, data_dir: &str) -> String {
    format!("# Lifeboat {name} ({data_dir}): managed by `lifeboat schedule`, do not edit")
}

/// `30 2 * * 1,3,5 LIFEBOAT_HOME='/x' '/usr/bin/lifeboat' 'schedule' 'run' 'NAME'`.
pub fn cron_line(entry: &Entry) -> String {
    let days = if entry.days.len() == 7 {
        "*".to_owned()
    } else {
        // cron counts 0 = Sunday, 1 = Monday.
        let mut numbers: Vec<usize> = entry.days.iter().map(|&d| (d + 1) % 7).collect();
        numbers.sort_unstable();
        numbers.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(",")
    };
    let mut words: Vec<String> =
        entry.env.iter().map(|(name, value)| format!("{name}={}", sh_quote(value))).collect();
    words.extend(entry.argv.iter().map(|a| sh_quote(a)));
    // cron turns an unescaped `%` into a newline (the rest becomes standard input).
    let command = words.join(" ").replace('%', "\\%");
    format!("{} {} * * {days} {command}", entry.minute, entry.hour)
}

/// Single quotes for /bin/sh; a quote inside becomes `'\''`.
pub fn sh_quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+:@=,".contains(c));
    if plain {
        return text.to_owned();
    }
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// The command cron hands to `/bin/sh -c` for a crontab line: after the five time fields, cut at
/// the first unescaped `%`, with `\%` turned into `%` (as cron's do_command does).
pub fn cron_command(line: &str) -> Option<String> {
    let mut rest = line.trim_start();
    for _ in 0..5 {
        let end = rest.find(char::is_whitespace)?;
        rest = rest[end..].trim_start();
    }
    let mut command = String::new();
    let mut escaped = false;
    for c in rest.chars() {
        if escaped {
            if c != '%' {
                command.push('\\');
            }
            command.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '%' {
            break;
        } else {
            command.push(c);
        }
    }
    if escaped {
        command.push('\\');
    }
    Some(command)
}

/// `&`, `<`, `>`, `"` and `'` as XML entities.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A launchd agent: the program and its arguments, its environment, and one calendar interval
/// per weekday (launchd counts 0 = Sunday), or one for every day.
pub fn launchd_plist(entry: &Entry) -> String {
    let mut text = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST \
         1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n",
    );
    text.push_str(&format!("<!-- {} -->\n<plist version=\"1.0\">\n<dict>\n", xml_escape(HEADER)));
    text.push_str(&format!(
        "\t<key>Label</key>\n\t<string>{}</string>\n",
        xml_escape(&format!("{LAUNCHD_PREFIX}{}", entry.name))
    ));
    text.push_str("\t<key>ProgramArguments</key>\n\t<array>\n");
    for arg in &entry.argv {
        text.push_str(&format!("\t\t<string>{}</string>\n", xml_escape(arg)));
    }
    text.push_str("\t</array>\n");
    if !entry.env.is_empty() {
        text.push_str("\t<key>EnvironmentVariables</key>\n\t<dict>\n");
        for (name, value) in &entry.env {
            text.push_str(&format!(
                "\t\t<key>{}</key>\n\t\t<string>{}</string>\n",
                xml_escape(name),
                xml_escape(value)
            ));
        }
        text.push_str("\t</dict>\n");
    }
    let interval = |weekday: Option<usize>| {
        let day = weekday.map_or(String::new(), |d| {
            format!("\t\t\t<key>Weekday</key>\n\t\t\t<integer>{}</integer>\n", (d + 1) % 7)
        });
        format!(
            "\t\t<dict>\n{day}\t\t\t<key>Hour</key>\n\t\t\t<integer>{}</integer>\n\t\t\t\
             <key>Minute</key>\n\t\t\t<integer>{}</integer>\n\t\t</dict>\n",
            entry.hour, entry.minute
        )
    };
    text.push_str("\t<key>StartCalendarInterval</key>\n\t<array>\n");
    if entry.days.len() == 7 {
        text.push_str(&interval(None));
    } else {
        entry.days.iter().for_each(|&d| text.push_str(&interval(Some(d))));
    }
    text.push_str("\t</array>\n\t<key>RunAtLoad</key>\n\t<false/>\n</dict>\n</plist>\n");
    text
}

/// The Task Scheduler path of an entry: `\Lifeboat\NAME`.
pub fn task_path(name: &str) -> String {
    format!("\\Lifeboat\\{name}")
}

/// A Task Scheduler task (schema 1.2): a daily or weekly calendar trigger that also runs when a
/// start was missed, for the logged-on user without elevation. Task Scheduler has no
/// environment for its actions: the environment goes on the command line as `--home DIR`, which
/// `lifeboat schedule run` understands.
pub fn task_xml(entry: &Entry) -> String {
    const DAY_NAMES: [&str; 7] =
        ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
    let schedule = if entry.days.len() == 7 {
        "      <ScheduleByDay>\n        <DaysInterval>1</DaysInterval>\n      </ScheduleByDay>\n"
            .to_owned()
    } else {
        let days: String =
            entry.days.iter().map(|&d| format!("          <{} />\n", DAY_NAMES[d])).collect();
        format!(
            "      <ScheduleByWeek>\n        <DaysOfWeek>\n{days}        </DaysOfWeek>\n        \
             <WeeksInterval>1</WeeksInterval>\n      </ScheduleByWeek>\n"
        )
    };
    let program = entry.argv.first().cloned().unwrap_or_default();
    let mut args: Vec<String> = entry.argv.iter().skip(1).map(|a| windows_arg(a)).collect();
    for (name, value) in &entry.env {
        if name == crate::storage::context::HOME_ENV {
            args.push("--home".to_owned());
            args.push(windows_arg(value));
        }
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-16\"?>\n\
<!-- {header} -->\n\
<Task version=\"1.2\" xmlns=\"http://schemas.microsoft.com/windows/2004/02/mit/task\">\n  \
<RegistrationInfo>\n    <Description>{description}</Description>\n    <URI>{uri}</URI>\n  \
</RegistrationInfo>\n  <Triggers>\n    <CalendarTrigger>\n      \
<StartBoundary>2024-01-01T{hour:02}:{minute:02}:00</StartBoundary>\n      <Enabled>true</Enabled>\n\
{schedule}    </CalendarTrigger>\n  </Triggers>\n  <Principals>\n    <Principal id=\"Author\">\n      \
<LogonType>InteractiveToken</LogonType>\n      <RunLevel>LeastPrivilege</RunLevel>\n    \
</Principal>\n  </Principals>\n  <Settings>\n    \
<MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>\n    \
<DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>\n    \
<StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>\n    \
<StartWhenAvailable>true</StartWhenAvailable>\n    \
<ExecutionTimeLimit>PT12H</ExecutionTimeLimit>\n    <Enabled>true</Enabled>\n  </Settings>\n  \
<Actions Context=\"Author\">\n    <Exec>\n      <Command>{command}</Command>\n      \
<Arguments>{arguments}</Arguments>\n    </Exec>\n  </Actions>\n</Task>\n",
        header = xml_escape(HEADER),
        description = xml_escape(&entry.description),
        uri = xml_escape(&task_path(&entry.name)),
        hour = entry.hour,
        minute = entry.minute,
        command = xml_escape(&program),
        arguments = xml_escape(&args.join(" ")),
    )
}

/// One argument as Windows programs split a command line (CommandLineToArgvW): quoted when it
/// holds a space, a tab or a quote; backslashes doubled before a quote and at the end.
pub fn windows_arg(text: &str) -> String {
    if !text.is_empty() && !text.contains([' ', '\t', '"']) {
        return text.to_owned();
    }
    let mut out = String::from("\"");
    let mut backslashes = 0;
    for c in text.chars() {
        match c {
            '\\' => backslashes += 1,
            '"' => {
                out.push_str(&"\\".repeat(backslashes * 2 + 1));
                out.push('"');
                backslashes = 0;
            }
            c => {
                out.push_str(&"\\".repeat(backslashes));
                out.push(c);
                backslashes = 0;
            }
        }
    }
    out.push_str(&"\\".repeat(backslashes * 2));
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(days: Vec<usize>, env: Vec<(&str, &str)>) -> Entry {
        Entry {
            name: "lifeboat-prod-shop".into(),
            description: "Lifeboat: back up shop (prod) at 100%".into(),
            argv: vec![
                "/opt/life boat/lifeboat".into(),
                "schedule".into(),
                "run".into(),
                "lifeboat-prod-shop".into(),
            ],
            env: env.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
            days,
            hour: 2,
            minute: 30,
        }
    }

    #[test]
    fn on_calendar_names_the_weekdays_or_every_day() {
        assert_eq!(on_calendar(&[0, 1, 2, 3, 4, 5, 6], 2, 30), "*-*-* 02:30:00");
        assert_eq!(on_calendar(&[0, 2, 4], 23, 5), "Mon,Wed,Fri *-*-* 23:05:00");
        assert_eq!(on_calendar(&[6], 0, 0), "Sun *-*-* 00:00:00");
    }

    /// systemd itself reads the OnCalendar text: `systemd-analyze calendar` normalizes it and
    /// names the next elapse, on the right weekday at the right time.
    #[test]
    fn systemd_analyze_accepts_the_on_calendar_text() {
        let Ok(output) = std::process::Command::new("systemd-analyze")
            .args(["calendar", &on_calendar(&[0, 2, 4], 2, 30)])
            .output()
        else {
            panic!("systemd-analyze is missing: install Debian's systemd package");
        };
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{text}{}", String::from_utf8_lossy(&output.stderr));
        assert!(text.contains("Normalized form: Mon,Wed,Fri *-*-* 02:30:00"), "{text}");
        let next = text.lines().find(|l| l.contains("Next elapse:")).unwrap();
        assert!(["Mon", "Wed", "Fri"].iter().any(|d| next.contains(d)), "{next}");
        assert!(next.contains("02:30:00"), "{next}");
        let daily = std::process::Command::new("systemd-analyze")
            .args(["calendar", &on_calendar(&[0, 1, 2, 3, 4, 5, 6], 2, 30)])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&daily.stdout);
        assert!(text.contains("Normalized form: *-*-* 02:30:00"), "{text}");
    }

    #[test]
    fn exec_start_quotes_spaces_percent_and_dollar_and_reads_back() {
        let e = entry(vec![0, 2, 4], vec![("LIFEBOAT_HOME", "/tmp/it's 100% $HOME")]);
        let service = systemd_service(&e);
        assert!(service.contains("Description=Lifeboat: back up shop (prod) at 100%%\n"));
        assert!(
            service.contains("Environment=\"LIFEBOAT_HOME=/tmp/it's 100%% $HOME\"\n"),
            "{service}"
        );
        assert!(
            service.contains(
                "ExecStart=\"/opt/life boat/lifeboat\" schedule run lifeboat-prod-shop\n"
            )
        );
        let exec = service.lines().find_map(|l| l.strip_prefix("ExecStart=")).unwrap();
        assert_eq!(parse_exec_start(exec), e.argv);
        let env = service.lines().find_map(|l| l.strip_prefix("Environment=")).unwrap();
        assert_eq!(parse_environment(env), e.env);
        let tricky = ["a\"b", "c\\d", "50%", "$X", "x y"];
        let line: Vec<String> = tricky.iter().map(|t| systemd_exec_word(t)).collect();
        assert_eq!(parse_exec_start(&line.join(" ")), tricky);
        let timer = systemd_timer(&e);
        assert!(timer.contains("OnCalendar=Mon,Wed,Fri *-*-* 02:30:00\nPersistent=true\n"));
        assert!(timer.contains("WantedBy=timers.target"));
    }

    #[test]
    fn cron_lines_quote_for_the_shell_and_escape_percent() {
        let e = entry(vec![0, 2, 6], vec![("LIFEBOAT_HOME", "/tmp/it's 100%")]);
        let line = cron_line(&e);
        assert_eq!(
            line,
            "30 2 * * 0,1,3 LIFEBOAT_HOME='/tmp/it'\\''s 100\\%' '/opt/life boat/lifeboat' \
             schedule run lifeboat-prod-shop"
        );
        assert_eq!(
            cron_command(&line).unwrap(),
            "LIFEBOAT_HOME='/tmp/it'\\''s 100%' '/opt/life boat/lifeboat' schedule run \
             lifeboat-prod-shop"
        );
        assert!(cron_line(&entry((0..7).collect(), vec![])).starts_with("30 2 * * * "));
        assert_eq!(cron_command("0 1 * * * echo a%b").unwrap(), "echo a");
    }

    #[test]
    fn windows_arguments_follow_command_line_to_argv() {
        assert_eq!(windows_arg("plain"), "plain");
        assert_eq!(windows_arg("C:\\Program Files\\x"), "\"C:\\Program Files\\x\"");
        assert_eq!(windows_arg("C:\\dir with space\\"), "\"C:\\dir with space\\\\\"");
        assert_eq!(windows_arg("say \"hi\""), "\"say \\\"hi\\\"\"");
        assert_eq!(windows_arg(""), "\"\"");
    }

    fn golden(name: &str, actual: &str) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/ops/schedule/golden")
            .join(name);
        if std::env::var_os("LIFEBOAT_BLESS").is_some() {
            std::fs::write(&path, actual).unwrap();
        }
        let expected = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (LIFEBOAT_BLESS=1 writes it)", path.display()));
        assert_eq!(actual, expected, "{name} differs from its golden file");
    }

    fn windows_entry(days: Vec<usize>) -> Entry {
        Entry {
            name: "lifeboat-prod-shop".into(),
            description: "Lifeboat: back up shop (prod) <daily> & check".into(),
            argv: vec![
                "C:\\Program Files\\Lifeboat\\lifeboat.exe".into(),
                "schedule".into(),
                "run".into(),
                "lifeboat-prod-shop".into(),
            ],
            env: vec![("LIFEBOAT_HOME".into(), "D:\\Backups & Co\\Lifeboat data\\".into())],
            days,
            hour: 2,
            minute: 30,
        }
    }

    #[test]
    fn task_scheduler_xml_matches_its_golden_files() {
        golden("task-daily.xml", &task_xml(&windows_entry((0..7).collect())));
        golden("task-weekly.xml", &task_xml(&windows_entry(vec![0, 2, 4, 6])));
    }

    #[test]
    fn launchd_plist_matches_its_golden_files() {
        let mut e = entry((0..7).collect(), vec![("LIFEBOAT_HOME", "/Users/ann/Life & <boat>")]);
        e.argv[0] = "/Applications/Lifeboat.app/Contents/MacOS/lifeboat".into();
        golden("agent-daily.plist", &launchd_plist(&e));
        e.days = vec![0, 6];
        e.env.clear();
        golden("agent-weekly.plist", &launchd_plist(&e));
    }
}
