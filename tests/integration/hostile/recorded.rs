//! Real Glance 33's answers to the same hostile inputs, recorded in `tests/fixtures/real-glance-33/hostile-answers.tsv`
//! (one line per case: label, status or `dropped`/`timeout`/`hung-up`, body kind): each case
//! expects what Glance answered, or says what we answer instead and why (`Case::ours`).
//!
//! To record again: `tests/fixtures/real-glance-33/record-hostile.sh` (starts Glance 33 from PyPI
//! under uWSGI, as tests/glance/start.sh, and runs `record_real_glance_33` against it).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use super::inputs::Targets;
use super::verdict::body_kind;
use super::wire::{exchange, Case, Finish, Outcome};
use super::{all_cases, prepare, Http, IDENTITY};

const RECORDING: &str = include_str!("../../fixtures/real-glance-33/hostile-answers.tsv");
const RECORDING_PATH: &str = "tests/fixtures/real-glance-33/hostile-answers.tsv";

/// What Glance answered one case: the outcome and, for an answer, the body kind.
#[derive(Clone, Debug)]
pub struct Answer {
    pub outcome: String,
    pub kind: String,
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

fn outcome_text(outcome: &Outcome) -> (String, &'static str) {
    match outcome {
        Outcome::Answered(code, body) => (code.to_string(), body_kind(*code, body)),
        Outcome::Dropped => ("dropped".into(), "-"),
        Outcome::Timeout => ("timeout".into(), "-"),
        Outcome::HungUp => ("hung-up".into(), "-"),
    }
}

/// The recording's line for `case`.
pub fn line(case: &Case, outcome: &Outcome) -> String {
    let (outcome, kind) = outcome_text(outcome);
    format!("{}\t{outcome}\t{kind}", escape(&case.label))
}

/// With `GLANCE_TEST_HOSTILE_ANSWERS=FILE`, our own answers go there in the same form, to diff
/// against Glance's.
pub fn write_if_asked(lines: &[String]) {
    if let Ok(path) = std::env::var("GLANCE_TEST_HOSTILE_ANSWERS") {
        std::fs::write(&path, lines.join("\n") + "\n").expect("write answers");
        println!("hostile: answers written to {path}");
    }
}

/// Glance's recorded answers by (escaped) label.
pub fn glance_answers() -> BTreeMap<String, Answer> {
    RECORDING
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let mut fields = l.rsplitn(3, '\t');
            let kind = fields.next().unwrap_or_default().to_string();
            let outcome = fields.next().unwrap_or_default().to_string();
            let label = fields.next().unwrap_or_default().to_string();
            (label, Answer { outcome, kind })
        })
        .collect()
}

/// Glance's answer to `case`.
pub fn glance_answer<'a>(answers: &'a BTreeMap<String, Answer>, case: &Case) -> Option<&'a Answer> {
    answers.get(&escape(&case.label))
}

fn placeholder_targets() -> Targets {
    let id = |n: u32| format!("00000000-0000-0000-0000-{n:012}");
    Targets {
        victim: id(1),
        shared: id(2),
        with_data: id(3),
        uploads: (0..super::inputs::UPLOAD_CASES as u32)
            .map(|n| id(100 + n))
            .collect(),
        identity: Vec::new(),
    }
}

/// The status `case` must get: ours where the case says we differ on purpose, else the one
/// real Glance 33 gave. An error names a case with no usable expectation: not recorded, or
/// Glance gave no 1xx-4xx answer (5xx, dropped, timeout) and the case does not say what we
/// answer instead. `None`: a client that hangs up, with nobody left to read an answer.
pub fn expected(case: &Case, answers: &BTreeMap<String, Answer>) -> Result<Option<u16>, String> {
    if case.finish == Finish::Abort {
        return Ok(None);
    }
    if let Some((status, _)) = case.ours {
        return Ok(Some(status));
    }
    let glance = glance_answer(answers, case)
        .ok_or_else(|| format!("{}: not in {RECORDING_PATH}", case.label))?;
    match glance.outcome.parse::<u16>() {
        Ok(status) if status < 500 => Ok(Some(status)),
        _ => Err(format!(
            "{}: Glance 33 answers {}; say what we answer and why (Case::ours)",
            case.label, glance.outcome
        )),
    }
}

/// Every case has a unique label and a usable expectation; every recorded answer belongs to
/// a case. Runs without a server.
#[test]
fn hostile_expectations_match_real_glance_33() {
    let answers = glance_answers();
    let cases = all_cases(&placeholder_targets());
    let mut labels = BTreeSet::new();
    let mut wrong = Vec::new();
    let mut ours = 0;
    for case in &cases {
        assert!(
            labels.insert(escape(&case.label)),
            "label twice: {}",
            case.label
        );
        ours += usize::from(case.ours.is_some());
        if let Err(why) = expected(case, &answers) {
            wrong.push(why);
        }
    }
    let unused: Vec<&String> = answers.keys().filter(|l| !labels.contains(*l)).collect();
    for line in &wrong {
        println!("  {line}");
    }
    println!(
        "{} cases: {} expect Glance 33's recorded answer, {ours} say why ours differs",
        cases.len(),
        cases.len() - ours
    );
    assert!(
        wrong.is_empty(),
        "{} cases without an expectation",
        wrong.len()
    );
    assert!(
        unused.is_empty(),
        "recorded answers no case has: {unused:?}"
    );
}

/// A real Glance reached over HTTP.
struct Remote {
    base: String,
    client: reqwest::Client,
}

impl Http for Remote {
    fn client(&self) -> &reqwest::Client {
        &self.client
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// Record real Glance's answers into `tests/fixtures/real-glance-33/hostile-answers.tsv`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real Glance 33: run tests/fixtures/real-glance-33/record-hostile.sh"]
async fn record_real_glance_33() {
    let base = std::env::var("GLANCE_TEST_REAL_GLANCE_URL")
        .expect("GLANCE_TEST_REAL_GLANCE_URL, e.g. http://127.0.0.1:9292");
    let glance = Remote {
        base: base.trim_end_matches('/').to_string(),
        client: reqwest::Client::new(),
    };
    // The same identity as ours: Glance's headers auth takes X-Project-Id, X-User-Id, X-Roles.
    assert_eq!(IDENTITY[1].0, "X-Project-Id");
    let (_seeds, targets) = prepare(&glance).await;
    let addr = glance.base.trim_start_matches("http://").to_string();
    let path = std::env::var("GLANCE_TEST_HOSTILE_ANSWERS")
        .unwrap_or_else(|_| format!("{}/{RECORDING_PATH}", env!("CARGO_MANIFEST_DIR")));
    let mut out = std::fs::File::create(&path).expect("create the recording");
    writeln!(
        out,
        "# Real Glance 33.0.0 (PyPI) under uWSGI 2.0.31, SQLite, filesystem store, headers auth\n\
         # (tests/glance/start.sh), recorded by tests/fixtures/real-glance-33/record-hostile.sh.\n\
         # label\toutcome\tbody kind (verdict::body_kind)"
    )
    .expect("write");
    let cases = all_cases(&targets);
    for (n, case) in cases.iter().enumerate() {
        let outcome = exchange(&addr, case).await;
        // Line by line: a run cut short keeps what it has.
        writeln!(out, "{}", line(case, &outcome)).expect("write");
        if matches!(outcome, Outcome::Timeout | Outcome::Dropped) {
            // A worker still busy (or killed by uWSGI's harakiri) must not turn the next
            // cases' answers into timeouts too.
            wait_until_serving(&glance).await;
        }
        if n % 100 == 0 {
            println!("{n}/{} {}", cases.len(), case.label);
        }
    }
    println!("recorded {} answers of {base} in {path}", cases.len());
}

/// Until Glance answers `GET /versions` again (bounded).
async fn wait_until_serving(glance: &Remote) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while std::time::Instant::now() < deadline {
        let answer = glance
            .client
            .get(glance.url("/versions"))
            .timeout(std::time::Duration::from_secs(5))
            .send()
            .await;
        if answer.is_ok_and(|r| r.status() == 200) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    panic!("Glance stopped serving");
}
