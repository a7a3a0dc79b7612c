//! `ward top`: a live view of every unit (state, health, CPU, memory, restarts, last
//! crash), sorted as asked, with keys to start, stop and restart the selected one and to
//! read its log and its `why`. Drawn with ratatui; refreshed every second from
//! `GET /v1/status`. Actions run on a thread of their own, so a stop that waits for its
//! unit never freezes the screen.
//!
//! Keys: ↑/↓ or k/j select, o changes the order, s starts, x stops, r restarts, l shows
//! the log, w shows why the last run ended, Esc goes back, q quits.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Table, TableState};
use ward_api::{ActionResponse, Selection, ServiceStatus, StatusResponse};
use ward_core::config::{Config, format_size};

use crate::client::{self, Method, Timeout};
use crate::exit::{Failure, OK};

/// How often the view asks for the status.
const REFRESH: Duration = Duration::from_secs(1);

/// The order of the rows.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Order {
    Name,
    Cpu,
    Memory,
    Restarts,
    State,
}

impl Order {
    fn next(self) -> Order {
        match self {
            Order::Name => Order::Cpu,
            Order::Cpu => Order::Memory,
            Order::Memory => Order::Restarts,
            Order::Restarts => Order::State,
            Order::State => Order::Name,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Order::Name => "name",
            Order::Cpu => "cpu",
            Order::Memory => "memory",
            Order::Restarts => "restarts",
            Order::State => "state",
        }
    }
}

/// What a key asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Intent {
    Quit,
    Up,
    Down,
    Reorder,
    Act(&'static str),
    Log,
    Why,
    Back,
    Nothing,
}

/// The meaning of a key.
pub fn intent(key: KeyCode) -> Intent {
    match key {
        KeyCode::Char('q') => Intent::Quit,
        KeyCode::Up | KeyCode::Char('k') => Intent::Up,
        KeyCode::Down | KeyCode::Char('j') => Intent::Down,
        KeyCode::Char('o') => Intent::Reorder,
        KeyCode::Char('s') => Intent::Act("start"),
        KeyCode::Char('x') => Intent::Act("stop"),
        KeyCode::Char('r') => Intent::Act("restart"),
        KeyCode::Char('l') => Intent::Log,
        KeyCode::Char('w') => Intent::Why,
        KeyCode::Esc => Intent::Back,
        _ => Intent::Nothing,
    }
}

/// The units in `order`: the largest first for numbers, names breaking ties.
pub fn sorted(services: &[ServiceStatus], order: Order) -> Vec<&ServiceStatus> {
    let mut rows: Vec<&ServiceStatus> = services.iter().collect();
    let cpu = |s: &ServiceStatus| s.usage.as_ref().and_then(|u| u.cpu_percent).unwrap_or(0.0);
    let mem = |s: &ServiceStatus| s.usage.as_ref().map_or(0, |u| u.memory_rss_bytes);
    rows.sort_by(|a, b| {
        let by = match order {
            Order::Name => std::cmp::Ordering::Equal,
            Order::Cpu => cpu(b).total_cmp(&cpu(a)),
            Order::Memory => mem(b).cmp(&mem(a)),
            Order::Restarts => b.restarts.cmp(&a.restarts),
            Order::State => a.state.as_str().cmp(b.state.as_str()),
        };
        by.then_with(|| a.name.cmp(&b.name))
    });
    rows
}

/// One row of the table, in words.
pub fn cells(s: &ServiceStatus) -> [String; 7] {
    let dash = || "-".to_string();
    [
        s.name.clone(),
        s.state.as_str().to_string(),
        s.health.clone().unwrap_or_else(dash),
        s.usage
            .as_ref()
            .and_then(|u| u.cpu_percent)
            .map_or_else(dash, |p| format!("{p:.1}%")),
        s.usage
            .as_ref()
            .map_or_else(dash, |u| format_size(u.memory_rss_bytes)),
        s.restarts.to_string(),
        s.verdict
            .as_ref()
            .filter(|v| v.class != "clean_exit" && v.class != "requested_stop")
            .map_or_else(dash, |v| format!("{} ({})", v.class, v.severity)),
    ]
}

/// What fills the screen.
enum View {
    Table,
    Text { title: String, text: String },
}

pub fn top(
    config_path: &std::path::Path,
    load: impl FnOnce() -> Result<Config, Failure>,
) -> Result<i32, Failure> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(Failure::Usage(
            "ward top needs a terminal on its standard input and output\n  hint: for scripts, \
             `ward status --json` and `ward events -f --json` give the same facts"
                .into(),
        ));
    }
    let config = &load()?;
    let socket = config.supervisor.socket.clone();
    let fetch = || -> Result<StatusResponse, Failure> {
        client::call(
            &socket,
            Method::Get::<()>("/v1/status"),
            Timeout::After(Duration::from_secs(5)),
        )
    };
    // Fail before the screen is taken: no daemon, no view.
    let mut status = fetch()?;
    let mut terminal = ratatui::try_init()
        .map_err(|e| Failure::Failed(format!("cannot take the terminal: {e}")))?;
    let (done_tx, done_rx) = mpsc::channel::<String>();
    let mut order = Order::Name;
    let mut table = TableState::default().with_selected(Some(0));
    let mut view = View::Table;
    let mut message =
        String::from("o order · s start · x stop · r restart · l log · w why · q quit");
    let mut fetched = Instant::now();
    let result = loop {
        let rows = sorted(&status.services, order);
        if let Some(i) = table.selected()
            && i >= rows.len()
        {
            table.select(Some(rows.len().saturating_sub(1)));
        }
        let selected = table
            .selected()
            .and_then(|i| rows.get(i))
            .map(|s| s.name.clone());
        let drawn = terminal.draw(|frame| {
            let [head, body, foot] = Layout::vertical([
                Constraint::Length(1),
                Constraint::Min(3),
                Constraint::Length(1),
            ])
            .areas(frame.area());
            frame.render_widget(
                Paragraph::new(format!(
                    "ward top · {} units · order: {} · {}",
                    status.services.len(),
                    order.as_str(),
                    status.daemon.config
                )),
                head,
            );
            match &view {
                View::Table => {
                    let header = Row::new([
                        "NAME",
                        "STATE",
                        "HEALTH",
                        "CPU",
                        "MEM",
                        "RESTARTS",
                        "LAST CRASH",
                    ])
                    .style(Style::default().add_modifier(Modifier::BOLD));
                    let body_rows = rows.iter().map(|s| Row::new(cells(s)));
                    let widths = [
                        Constraint::Min(12),
                        Constraint::Length(9),
                        Constraint::Length(10),
                        Constraint::Length(8),
                        Constraint::Length(11),
                        Constraint::Length(9),
                        Constraint::Min(18),
                    ];
                    let t = Table::new(body_rows, widths)
                        .header(header)
                        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED));
                    frame.render_stateful_widget(t, body, &mut table);
                }
                View::Text { title, text } => {
                    let lines: Vec<Line> = text.lines().map(|l| Line::raw(l.to_string())).collect();
                    let skip = lines
                        .len()
                        .saturating_sub(body.height.saturating_sub(2) as usize);
                    frame.render_widget(
                        Paragraph::new(lines[skip..].to_vec())
                            .block(Block::bordered().title(format!(" {title} · Esc back "))),
                        body,
                    );
                }
            }
            frame.render_widget(Paragraph::new(message.as_str()), foot);
        });
        if let Err(e) = drawn {
            break Err(Failure::Failed(format!("cannot draw: {e}")));
        }
        while let Ok(m) = done_rx.try_recv() {
            message = m;
            fetched = Instant::now() - REFRESH;
        }
        if event::poll(Duration::from_millis(200)).unwrap_or(false)
            && let Ok(Event::Key(key)) = event::read()
            && key.kind == KeyEventKind::Press
        {
            match intent(key.code) {
                Intent::Quit => break Ok(OK),
                Intent::Up => table.select_previous(),
                Intent::Down => table.select_next(),
                Intent::Reorder => order = order.next(),
                Intent::Back => view = View::Table,
                Intent::Act(verb) => {
                    if let Some(name) = selected.clone() {
                        message = format!("{verb} {name} …");
                        let (socket, tx) = (socket.clone(), done_tx.clone());
                        std::thread::spawn(move || {
                            let said = act(&socket, verb, &name);
                            let _ = tx.send(said);
                        });
                    }
                }
                Intent::Log => {
                    if let Some(name) = selected.clone() {
                        let path = config.supervisor.log_file(&name);
                        let text = crate::cmd::logs::last_lines(&path, 200);
                        view = View::Text {
                            title: format!("log of {name}"),
                            text: ward_api::escape::bytes(&text).into_owned(),
                        };
                    }
                }
                Intent::Why => {
                    if let Some(name) = selected.clone() {
                        view = View::Text {
                            title: format!("why {name}"),
                            text: why(config_path, &name),
                        };
                    }
                }
                Intent::Nothing => {}
            }
        }
        if fetched.elapsed() >= REFRESH {
            fetched = Instant::now();
            match fetch() {
                Ok(s) => status = s,
                Err(e) => message = format!("cannot read the status: {e}"),
            }
        }
    };
    ratatui::restore();
    result
}

/// Starts, stops or restarts `name`; what came of it, in words.
fn act(socket: &std::path::Path, verb: &str, name: &str) -> String {
    let body = Selection {
        names: vec![name.to_string()],
        all: false,
    };
    let path = format!("/v1/{verb}");
    match client::call::<ActionResponse>(
        socket,
        Method::Post(&path, body),
        Timeout::After(Duration::from_secs(120)),
    ) {
        Ok(resp) => resp
            .results
            .iter()
            .map(|r| format!("{verb} {}: {}", r.name, r.message))
            .collect::<Vec<_>>()
            .join("; "),
        Err(e) => format!("{verb} {name} failed: {e}"),
    }
}

/// What `ward why NAME` says, escaped for the screen.
fn why(config_path: &std::path::Path, name: &str) -> String {
    let out = std::env::current_exe().and_then(|exe| {
        std::process::Command::new(exe)
            .arg("-c")
            .arg(config_path)
            .args(["why", name])
            .output()
    });
    match out {
        Ok(o) => {
            let mut text = String::from_utf8_lossy(&o.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&o.stderr));
            ward_api::escape::lines(&text).into_owned()
        }
        Err(e) => format!("cannot run `ward why {name}`: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(name: &str, cpu: f64, mem: u64, restarts: u64) -> ServiceStatus {
        let json = serde_json::json!({
            "name": name, "service": name, "state": "running", "intent": "run",
            "pid": 1, "process_state": null, "started_at_ms": null, "uptime_ms": null,
            "restarts": restarts, "spawns": 1, "failed_starts": 0, "last_exit": null,
            "spawn_error": null, "backoff_ms": null, "log_file": "", "log_dropped_bytes": 0,
            "cgroup": null, "health": null,
            "usage": {"cpu_percent": cpu, "cpu_seconds": 1.0, "memory_rss_bytes": mem,
                      "memory_peak_rss_bytes": mem, "threads": 1, "fds": 3, "read_bytes": 0,
                      "write_bytes": 0, "processes": 1, "sampled_at_ms": 0}
        });
        serde_json::from_value(json).expect("a status")
    }

    #[test]
    fn rows_sort_by_the_order_asked_names_breaking_ties() {
        let s = [
            unit("b", 5.0, 10, 2),
            unit("a", 50.0, 5, 2),
            unit("c", 5.0, 99, 0),
        ];
        let names = |o| {
            sorted(&s, o)
                .iter()
                .map(|u| u.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(Order::Name), ["a", "b", "c"]);
        assert_eq!(names(Order::Cpu), ["a", "b", "c"]);
        assert_eq!(names(Order::Memory), ["c", "b", "a"]);
        assert_eq!(names(Order::Restarts), ["a", "b", "c"]);
        let mut o = Order::Name;
        for _ in 0..5 {
            o = o.next();
        }
        assert_eq!(o, Order::Name);
    }

    #[test]
    fn keys_and_cells() {
        assert_eq!(intent(KeyCode::Char('r')), Intent::Act("restart"));
        assert_eq!(intent(KeyCode::Char('x')), Intent::Act("stop"));
        assert_eq!(intent(KeyCode::Char('j')), Intent::Down);
        assert_eq!(intent(KeyCode::Char('?')), Intent::Nothing);
        let c = cells(&unit("web", 12.34, 3 << 20, 4));
        assert_eq!(c[0], "web");
        assert_eq!(c[3], "12.3%");
        assert_eq!(c[4], "3.0 MiB");
        assert_eq!(c[5], "4");
    }
}
