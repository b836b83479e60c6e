//! The `radgate` binary as users run it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn radgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_radgate"))
        .args(args)
        .output()
        .expect("radgate runs")
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn example(name: &str) -> String {
    examples().join(name).to_string_lossy().into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The command failed with exit code 1 and said `needle` on stderr.
fn assert_fails_with(o: &Output, needle: &str) {
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(o));
    assert!(
        stderr(o).contains(needle),
        "missing {needle:?} in stderr: {}",
        stderr(o)
    );
}

/// A scratch directory under the target dir, fresh for each test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn every_subcommand_has_help() {
    for args in [
        vec!["--help"],
        vec!["demo", "--help"],
        vec!["policy", "--help"],
        vec!["policy", "check", "--help"],
        vec!["policy", "explain", "--help"],
        vec!["simulate", "--help"],
        vec!["stats", "--help"],
        vec!["ai", "check", "--help"],
        vec!["portfolio", "import", "--help"],
        vec!["authz", "explain", "--help"],
        vec!["serve", "--help"],
        vec!["audit", "verify", "--help"],
        vec!["stats", "proportion", "--help"],
        vec!["stats", "agreement", "--help"],
        vec!["programme", "progress", "--help"],
        vec!["programme", "cohort", "--help"],
        vec!["programme", "sample", "--help"],
        vec!["monitor", "--help"],
    ] {
        let o = radgate(&args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        assert!(stdout(&o).contains("Usage: radgate"), "{args:?}");
    }
}

#[test]
fn example_policies_check_clean() {
    for p in ["policy.toml", "screening-policy.toml"] {
        let o = radgate(&["policy", "check", &example(p)]);
        assert!(o.status.success(), "{p}: {}", stderr(&o));
        assert!(stdout(&o).contains(": ok (policy "), "{}", stdout(&o));
    }
}

#[test]
fn policy_check_names_file_line_and_reason_for_every_problem() {
    let dir = scratch("policy-check-problems");
    let file = dir.join("bad.toml");
    let text = format!(
        r#"version = "bad-1"
department = "{dept}"
[sla]
stat = 30
urgent = 120
routine = 1440
[default]
pathway = "radiologist_read"
task = "final_report"

[[rule]]
id = "all-ct"
[rule.when]
modality = "CT"
[rule.then]
pathway = "radiologist_read"
task = "final_report"

[[rule]]
id = "ct-head"
[rule.when]
modality = "CT"
body_part = "HEAD"
[rule.then]
pathway = "radiologist_read"
task = "final_report"

[[rule]]
id = "odd"
[rule.when]
modalty = "DX"
[[rule.when.ai]]
app = "unknown-ai"
score_min = 1.2
[rule.then]
pathway = "delegated_preliminary"
task = "image_guided_puncture"
"#,
        dept = example("department.toml").replace('\\', "/")
    );
    let dept_fixture = std::fs::read_to_string(example("department.toml"))
        .unwrap()
        .replace(
            "task = \"image_guided_puncture\"\nkind = \"reallocation\"",
            "task = \"msk_ultrasound_report\"\nkind = \"reallocation\"",
        );
    let dept_file = dir.join("department.toml");
    std::fs::write(&dept_file, dept_fixture).unwrap();
    std::fs::write(
        &file,
        text.replace(
            &example("department.toml").replace('\\', "/"),
            "department.toml",
        ),
    )
    .unwrap();

    // One pass: the unknown key, and the semantic problems of the rules that read cleanly
    // (the broken rule `odd` itself is analysed once it reads).
    let o = radgate(&["policy", "check", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    let f = file.display().to_string();
    assert!(
        err.contains(&format!("{f}:31: unknown key `modalty` in rule `odd`.when")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{f}:19: rule `ct-head` can never fire")),
        "{err}"
    );
    assert_eq!(err.lines().count(), 2, "{err}");

    std::fs::write(
        &file,
        std::fs::read_to_string(&file)
            .unwrap()
            .replace("modalty", "modality"),
    )
    .unwrap();
    let o = radgate(&["policy", "check", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    for expected in [
        format!("{f}:19: rule `ct-head` can never fire: rule `all-ct` (line 11)"),
        format!(
            "{f}:33: rule `odd`: AI application `unknown-ai` is not in the department's AI register"
        ),
        format!(
            "{f}:34: rule `odd`: threshold score_min = 1.2 lies outside the score range [0, 1]"
        ),
        format!(
            "{f}:37: rule `odd`: task `image_guided_puncture` is not covered by any task agreement"
        ),
    ] {
        assert!(err.contains(&expected), "missing {expected:?} in:\n{err}");
    }
    assert_eq!(err.lines().count(), 4, "{err}");
}

#[test]
fn policy_check_reports_broken_toml_without_panicking() {
    let dir = scratch("policy-check-broken");
    let file = dir.join("broken.toml");
    std::fs::write(&file, "version = \"x\"\n[sla]\nstat = 30\nurgent = [\n").unwrap();
    let o = radgate(&["policy", "check", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("broken.toml:") && err.contains("invalid TOML"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    let o = radgate(&["policy", "check", dir.join("absent.toml").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cannot read"), "{}", stderr(&o));
}

const PE_CASE: &str = r#"{
  "study": {
    "accession": "ACC20260302",
    "patient": "PSEUDO-0001",
    "patient_age_years": 67,
    "modality": "CT",
    "procedure_code": "CTPA",
    "body_part": "CHEST",
    "priority": "urgent",
    "site": "main",
    "ordering_department": "ED",
    "acquired_at": "2026-03-02T10:00:00Z"
  },
  "ai_results": [{
    "id": "pe-7781",
    "app": "pe-detect",
    "app_version": "3.2.0",
    "accession": "ACC20260302",
    "received_at": "2026-03-02T10:04:00Z",
    "findings": [{"code": "pulmonary_embolism", "score": 0.93, "critical": true}]
  }]
}"#;

#[test]
fn policy_explain_prints_decision_and_why_in_json_and_text() {
    let dir = scratch("policy-explain");
    let case = dir.join("case.json");
    std::fs::write(&case, PE_CASE).unwrap();
    let o = radgate(&[
        "policy",
        "explain",
        "--policy",
        &example("policy.toml"),
        "--study",
        case.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let d: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(d["rule"], "ctpa-pe-positive");
    assert_eq!(d["pathway"], "radiologist_read");
    assert_eq!(d["priority"], "stat");
    assert_eq!(d["due"], "2026-03-02T10:15:00Z");
    assert_eq!(d["policy_version"], "2026.11-1");
    assert_eq!(d["ai_evidence"][0]["score"], 0.93);
    assert!(
        d["explanation"]
            .as_str()
            .unwrap()
            .contains("score 0.93 >= 0.5")
    );

    let o = radgate(&[
        "policy",
        "explain",
        "--policy",
        &example("policy.toml"),
        "--study",
        case.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let text = stdout(&o);
    assert!(text.contains("rule      ctpa-pe-positive"), "{text}");
    assert!(
        text.contains("  - AI pe-detect 3.2.0 reported pulmonary_embolism score 0.93 >= 0.5"),
        "{text}"
    );
}

#[test]
fn policy_explain_evaluation_time_decides_ai_timeouts() {
    let dir = scratch("policy-explain-timeout");
    let case = dir.join("case.json");
    let no_ai = PE_CASE
        .split("\"ai_results\"")
        .next()
        .unwrap()
        .trim_end()
        .trim_end_matches(',')
        .to_string()
        + "}";
    std::fs::write(&case, no_ai).unwrap();
    let run = |at: &str| {
        let o = radgate(&[
            "policy",
            "explain",
            "--policy",
            &example("policy.toml"),
            "--study",
            case.to_str().unwrap(),
            "--format",
            "json",
            "--at",
            at,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_str::<serde_json::Value>(&stdout(&o)).unwrap()
    };
    assert_eq!(run("2026-03-02T10:10:00Z")["rule"], serde_json::Value::Null);
    assert_eq!(
        run("2026-03-02T10:20:00Z")["rule"],
        "ctpa-pe-missing".replace("pe-missing", "ai-missing")
    );
}

#[test]
fn policy_explain_rejects_bad_study_input_naming_the_field() {
    let dir = scratch("policy-explain-bad");
    let case = dir.join("case.json");
    std::fs::write(&case, PE_CASE.replace("\"body_part\"", "\"bodypart\"")).unwrap();
    let o = radgate(&[
        "policy",
        "explain",
        "--policy",
        &example("policy.toml"),
        "--study",
        case.to_str().unwrap(),
    ]);
    assert_fails_with(&o, "unknown field `bodypart`");

    std::fs::write(
        &case,
        PE_CASE.replace(
            "\"accession\": \"ACC20260302\",\n    \"received_at\"",
            "\"accession\": \"OTHER\",\n    \"received_at\"",
        ),
    )
    .unwrap();
    let o = radgate(&[
        "policy",
        "explain",
        "--policy",
        &example("policy.toml"),
        "--study",
        case.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o)
            .contains("ai_results[0].accession is OTHER, but the study's accession is ACC20260302"),
        "{}",
        stderr(&o)
    );
}

fn simulate(dept: &str, policy: &str, days: &str, seed: &str) -> serde_json::Value {
    let o = radgate(&[
        "simulate",
        "--department",
        &example(dept),
        "--policy",
        &example(policy),
        "--days",
        days,
        "--seed",
        seed,
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

#[test]
fn simulate_json_has_the_documented_keys_and_is_reproducible() {
    let a = simulate("department.toml", "policy.toml", "14", "7");
    for key in [
        "exams",
        "pathways",
        "radiologist_reads",
        "baseline_radiologist_reads",
        "workload_reduction_pct",
        "expected_missed_findings",
        "turnaround_minutes",
        "sla_compliance_pct",
    ] {
        assert!(a.get(key).is_some(), "missing {key}");
    }
    let exams = a["exams"].as_u64().unwrap();
    let per_pathway: u64 = a["pathways"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(per_pathway, exams);
    assert!(a["pathways"]["gatekeeper"].as_u64().unwrap() > 0);
    assert!(a["pathways"]["delegated_preliminary"].as_u64().unwrap() > 0);
    assert_eq!(
        a["baseline_radiologist_reads"].as_u64().unwrap(),
        exams,
        "one baseline read per general exam"
    );
    assert!(a["workload_reduction_pct"].as_f64().unwrap() > 0.0);
    assert!(
        a["turnaround_minutes"]["stat"]["p90"].as_f64().unwrap()
            >= a["turnaround_minutes"]["stat"]["p50"].as_f64().unwrap()
    );
    assert_eq!(
        a,
        simulate("department.toml", "policy.toml", "14", "7"),
        "same seed, same output"
    );
    assert_ne!(
        a["exams"],
        simulate("department.toml", "policy.toml", "14", "8")["exams"]
    );
}

#[test]
fn screening_simulation_single_reads_most_and_double_reads_risk_ten() {
    let r = simulate(
        "screening-department.toml",
        "screening-policy.toml",
        "60",
        "3",
    );
    let exams = r["exams"].as_f64().unwrap();
    let double = r["pathways"]["double_read"].as_f64().unwrap();
    let single = r["pathways"]["single_read"].as_f64().unwrap();
    // About 10.5% of screens without cancer score 10 (plus AI failures); the rest single read.
    assert!(
        (0.07..0.13).contains(&(double / exams)),
        "{}",
        double / exams
    );
    assert_eq!(single + double, exams);
    // The baseline reads every screen twice; the screening section counts the reads.
    let screening = &r["screening"];
    assert_eq!(
        screening["baseline"]["screen_reads"].as_f64().unwrap(),
        2.0 * exams
    );
    let reduction = screening["screen_read_reduction_pct"].as_f64().unwrap();
    assert!((42.0..47.0).contains(&reduction), "{reduction}");
    assert!(
        screening["policy"]["cancer_detection_per_1000"]
            .as_f64()
            .unwrap()
            > 0.0
    );
}

#[test]
fn simulate_refuses_a_roster_that_cannot_do_the_work() {
    let dir = scratch("simulate-roster");
    let dept = std::fs::read_to_string(example("department.toml"))
        .unwrap()
        .replace(
            "tasks = [\"oncology_preliminary_report\", \"msk_ultrasound_report\"]",
            "tasks = [\"msk_ultrasound_report\"]",
        );
    std::fs::write(dir.join("department.toml"), dept).unwrap();
    let o = radgate(&[
        "simulate",
        "--department",
        dir.join("department.toml").to_str().unwrap(),
        "--policy",
        &example("policy.toml"),
        "--days",
        "1",
        "--seed",
        "1",
    ]);
    assert_fails_with(
        &o,
        "no one on the roster can do task `oncology_preliminary_report`",
    );
}

#[test]
fn simulate_reports_department_problems_with_lines() {
    let dir = scratch("simulate-dept");
    let dept = std::fs::read_to_string(example("department.toml"))
        .unwrap()
        .replace("prevalence = 0.55", "prevalence = 1.55")
        .replace(
            "age = { mean = 62, sd = 17 }",
            "age = { mean = nan, sd = 17 }",
        )
        .replace(
            "role = \"mbb\"\ncount = 2",
            "role = \"mbb\"\ncount = 2\nshift = \"x\"",
        );
    let path = dir.join("department.toml");
    std::fs::write(&path, &dept).unwrap();
    let o = radgate(&[
        "simulate",
        "--department",
        path.to_str().unwrap(),
        "--policy",
        &example("policy.toml"),
        "--days",
        "1",
        "--seed",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    let line_of = |needle: &str| dept.lines().position(|l| l.contains(needle)).unwrap() + 1;
    assert!(
        err.contains(&format!(
            "department.toml:{}: `prevalence` must lie in [0, 1], found 1.55",
            line_of("prevalence = 1.55")
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "department.toml:{}: unknown key `shift`",
            line_of("shift = \"x\"")
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "department.toml:{}: `mean` in",
            line_of("mean = nan")
        )) && err.contains("must be a finite number, found NaN"),
        "{err}"
    );
}

#[test]
fn demo_serves_the_example_department_and_its_worklists_move() {
    use std::io::{BufRead, BufReader};
    let dir = scratch("demo");
    let db = dir.join("demo.sqlite");
    let mut child = Command::new(env!("CARGO_BIN_EXE_radgate"))
        .args([
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--rate",
            "600",
            "--backlog",
            "3",
            "--db",
            db.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut logins = std::collections::HashMap::new();
    let url = loop {
        let line = lines.next().expect("demo prints its URL").unwrap();
        if let Some(url) = line.strip_prefix("radgate listening on ") {
            break url.to_string();
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.len() == 3 && !line.contains(':') {
            logins.insert(
                parts[0].to_string(),
                (parts[1].to_string(), parts[2].to_string()),
            );
        }
    };
    for role in ["radiologist", "mbb_ai", "mbb", "ap", "pa"] {
        assert!(
            logins.contains_key(role),
            "no login printed for {role}: {logins:?}"
        );
    }
    let (user, password) = &logins["radiologist"];
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let resp = agent
        .post(format!("{url}/api/v1/login"))
        .send_json(serde_json::json!({"username": user, "password": password}))
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let cookie = resp
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let count = || {
        let mut r = agent
            .get(format!("{url}/api/v1/worklist"))
            .header("Cookie", &cookie)
            .call()
            .unwrap();
        r.body_mut()
            .read_json::<serde_json::Value>()
            .unwrap()
            .as_array()
            .unwrap()
            .len()
    };
    let first = count();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while count() <= first {
        assert!(
            std::time::Instant::now() < deadline,
            "the worklist did not move"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn stats_agreement_reports_each_criterion_and_overall() {
    let dir = scratch("stats-agreement");
    let file = dir.join("pairs.csv");
    // A medical assessor (a) one point more lenient than a technical one (b) on method.
    let mut csv = String::from("item,rater_a_score,rater_b_score,criterion\n");
    for i in 0..12 {
        let b = 1 + i % 4;
        csv += &format!("thesis-{i},{},{b},method\n", b + 1);
        csv += &format!("thesis-{i},{b},{b},writing\n");
    }
    std::fs::write(&file, csv).unwrap();
    let o = radgate(&["stats", "agreement", "--file", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    for group in ["method", "writing", "overall"] {
        for key in [
            "kappa_quadratic",
            "icc2_1",
            "icc3_1",
            "krippendorff_alpha_ordinal",
            "mean_difference",
            "loa_lower",
            "loa_upper",
            "n",
        ] {
            assert!(report[group].get(key).is_some(), "{group}.{key}: {report}");
        }
    }
    assert_eq!(report["method"]["n"], 12);
    assert_eq!(report["overall"]["n"], 24);
    assert_eq!(report["method"]["mean_difference"], 1.0);
    // A constant offset: perfectly consistent, far from perfect absolute agreement.
    assert_eq!(report["method"]["icc3_1"], 1.0);
    assert!(report["method"]["icc2_1"].as_f64().unwrap() < 0.8);
    assert_eq!(report["writing"]["kappa_quadratic"], 1.0);
    assert!(
        report["method"]["bias"]["wilcoxon"]["p_value"]
            .as_f64()
            .unwrap()
            < 0.001
    );

    let text = radgate(&[
        "stats",
        "agreement",
        "--file",
        file.to_str().unwrap(),
        "--format",
        "text",
    ]);
    assert!(
        stdout(&text).contains("ICC(2,1) agreement"),
        "{}",
        stdout(&text)
    );

    std::fs::write(
        &file,
        "item,rater_a_score,rater_b_score,criterion\na,4,3,m\nb,4.5,3,m\n",
    )
    .unwrap();
    let bad = radgate(&["stats", "agreement", "--file", file.to_str().unwrap()]);
    assert_fails_with(
        &bad,
        "pairs.csv:3: rater_a_score: `4.5` is not a whole scale point",
    );
}

#[test]
fn stats_proportion_rejects_impossible_input() {
    let o = radgate(&[
        "stats",
        "proportion",
        "--successes",
        "5",
        "--trials",
        "4",
        "--method",
        "wilson",
    ]);
    assert_fails_with(&o, "successes (5) cannot exceed trials (4)");
}

/// Compares with statsmodels' `proportion_confint`, an independent implementation.
/// `scripts/test` installs it; RADGATE_PYTHON names the interpreter that has it.
#[test]
fn stats_proportion_matches_statsmodels() {
    let python = std::env::var("RADGATE_PYTHON").unwrap_or_else(|_| "python3".into());
    let cases = [
        (0u64, 10u64),
        (1, 3),
        (3, 10),
        (81, 263),
        (50, 50),
        (7, 1000),
        (499, 1000),
        (1, 1),
    ];
    let script = format!(
        "import json\nfrom statsmodels.stats.proportion import proportion_confint as ci\nout=[]\nfor x,n in {cases:?}:\n  for m,sm in [('wald','normal'),('wilson','wilson'),('exact','beta')]:\n    lo,hi=ci(x,n,alpha=0.05,method=sm)\n    out.append([x,n,m,float(lo),float(hi)])\nprint(json.dumps(out))\n"
    );
    let o = Command::new(&python)
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {python}: {e}; run scripts/test, which installs statsmodels")
        });
    assert!(
        o.status.success(),
        "statsmodels is needed (run scripts/test): {}",
        stderr(&o)
    );
    let rows: Vec<(u64, u64, String, f64, f64)> = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(rows.len(), cases.len() * 3);
    for (x, n, method, lo, hi) in rows {
        let out = radgate(&[
            "stats",
            "proportion",
            "--successes",
            &x.to_string(),
            "--trials",
            &n.to_string(),
            "--method",
            &method,
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let ours: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        let (l, u, e) = (
            ours["lower"].as_f64().unwrap(),
            ours["upper"].as_f64().unwrap(),
            ours["estimate"].as_f64().unwrap(),
        );
        assert!(
            (l - lo).abs() < 1e-9,
            "{method} {x}/{n}: lower {l} vs statsmodels {lo}"
        );
        assert!(
            (u - hi).abs() < 1e-9,
            "{method} {x}/{n}: upper {u} vs statsmodels {hi}"
        );
        assert!((e - x as f64 / n as f64).abs() < 1e-15);
    }
}

#[test]
fn simulate_refuses_zero_or_absurd_days() {
    for days in ["0", "100000"] {
        let o = radgate(&[
            "simulate",
            "--department",
            &example("department.toml"),
            "--policy",
            &example("policy.toml"),
            "--days",
            days,
            "--seed",
            "1",
        ]);
        assert_fails_with(&o, &format!("days must be 1 to 3653, got {days}"));
    }
}

#[test]
fn ai_check_fails_when_an_application_in_use_has_an_expired_certificate() {
    let check = |extra: &[&str]| {
        let dept = example("department.toml");
        let mut args = vec!["ai", "check", "--department", &dept, "--on", "2029-07-01"];
        args.extend(extra);
        radgate(&args)
    };
    let o = check(&[]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("  - error: CE certificate expired on 2029-06-30"),
        "{}",
        stdout(&o)
    );
    assert!(
        stderr(&o).contains("error(s) in the AI register"),
        "{}",
        stderr(&o)
    );
    let o = check(&["--warn-only"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn ai_check_lists_the_register_warnings_of_the_day() {
    let o = radgate(&[
        "ai",
        "check",
        "--department",
        &example("department.toml"),
        "--on",
        "2028-01-01",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let pe = r
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["app"] == "pe-detect")
        .unwrap();
    let kinds: Vec<&str> = pe["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["warning"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["certificate_expiring", "mdd_only"]);
    let text = stdout(&radgate(&[
        "ai",
        "check",
        "--department",
        &example("department.toml"),
        "--on",
        "2028-01-01",
    ]));
    assert!(
        text.contains("pe-detect 3.2.0 (production): 2 warning(s)"),
        "{text}"
    );
    assert!(
        text.contains(
            "  - warning: certified under the MDD only: the certificate lapses by 2028-12-31 at the latest"
        ),
        "{text}"
    );
}

/// Issue 12, item 13: a database that is not one, a PostgreSQL that does not answer, or a
/// port another program holds stops `serve` and `demo` within seconds, with one line naming
/// the cause, before anything is created.
#[test]
fn start_up_fails_fast_with_one_line_naming_the_cause() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("start-up");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (policy, department) = (example("policy.toml"), example("department.toml"));
    let serve = |db: &[&str], listen: &str| {
        let mut args = vec!["serve"];
        args.extend(db);
        args.extend([
            "--listen",
            listen,
            "--policy",
            &policy,
            "--department",
            &department,
        ]);
        let started = std::time::Instant::now();
        let out = radgate(&args);
        (out, started.elapsed())
    };
    let text = dir.join("notes.txt");
    std::fs::write(&text, "not a database, but a note someone kept\n").unwrap();
    let (out, took) = serve(&["--db", text.to_str().unwrap()], "127.0.0.1:0");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("is not an SQLite database"), "{err}");
    assert!(took < std::time::Duration::from_secs(10), "{took:?}");
    assert_eq!(
        std::fs::read_to_string(&text).unwrap(),
        "not a database, but a note someone kept\n",
        "the file is untouched"
    );

    // Nothing listens on port 1.
    let (out, took) = serve(
        &["--database-url", "postgres://radgate@127.0.0.1:1/radgate"],
        "127.0.0.1:0",
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("cannot reach the database"), "{err}");
    assert!(took < std::time::Duration::from_secs(10), "{took:?}");

    // A busy port: no database is created, no logins are printed.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let fresh = dir.join("fresh.sqlite");
    let (out, _) = serve(&["--db", fresh.to_str().unwrap()], &addr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("cannot listen on {addr}")),
        "{}",
        stderr(&out)
    );
    assert!(!fresh.exists(), "serve created its database before failing");
    let demo_db = dir.join("demo.sqlite");
    let out = radgate(&["demo", "--listen", &addr, "--db", demo_db.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).is_empty(),
        "no logins printed"
    );
    assert!(
        stderr(&out).contains(&format!("cannot listen on {addr}")),
        "{}",
        stderr(&out)
    );
    assert!(!demo_db.exists(), "the demo left a database behind");
}

/// Issue 12: a negative number is told it must be positive, a date that does not parse
/// names its field, and a certificate kind the department does not know is refused.
#[test]
fn command_line_values_are_refused_with_what_they_must_be() {
    // Usage errors exit 2, as clap's do.
    let usage = |o: &Output, needle: &str| {
        assert_eq!(o.status.code(), Some(2), "{}", stderr(o));
        assert!(stderr(o).contains(needle), "{}", stderr(o));
    };
    let o = radgate(&[
        "stats",
        "proportion",
        "--successes",
        "1",
        "--trials",
        "-5",
        "--method",
        "exact",
    ]);
    usage(
        &o,
        "--trials <TRIALS>': the value must be positive, got `-5`",
    );
    let o = radgate(&[
        "stats",
        "proportion",
        "--successes",
        "-1",
        "--trials",
        "5",
        "--method",
        "exact",
    ]);
    usage(
        &o,
        "the value must be a whole number, zero or more, got `-1`",
    );
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("values");
    std::fs::create_dir_all(&dir).unwrap();
    let case = dir.join("case.json");
    std::fs::write(
        &case,
        r#"{"study": {"accession": "A1", "patient": "P", "modality": "CT", "procedure_code": "CTPA",
  "body_part": "CHEST", "priority": "routine", "site": "main", "ordering_department": "ED",
  "acquired_at": "2026-13-01T00:00:00Z"}}"#,
    )
    .unwrap();
    let policy = example("policy.toml");
    let o = radgate(&[
        "policy",
        "explain",
        "--policy",
        &policy,
        "--study",
        case.to_str().unwrap(),
    ]);
    assert_fails_with(&o, "case.json:3: study.acquired_at: ");
    let db = dir.join("values.sqlite");
    let _ = std::fs::remove_file(&db);
    let dept = example("department.toml");
    let o = radgate(&[
        "portfolio",
        "certificate",
        "--db",
        db.to_str().unwrap(),
        "--department",
        &dept,
        "--person",
        "mbb-jansen",
        "--kind",
        "ai_endorsment",
        "--valid-until",
        "2027-01-01",
    ]);
    assert_fails_with(&o, "unknown certificate kind `ai_endorsment`");
    assert!(
        stderr(&o).contains("ai_endorsement, ai_literacy"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_labeller_meets_its_target_on_the_projects_report_set() {
    let o = radgate(&[
        "labeller",
        "evaluate",
        "--reports",
        &example("labeller-reports.jsonl"),
        "--department",
        &example("department.toml"),
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let scores: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let scores = scores.as_array().unwrap();
    // Every finding of the register, in both languages.
    assert_eq!(scores.len(), 12, "{}", stdout(&o));
    for s in scores {
        assert!(s["n"].as_u64().unwrap() >= 30, "{s}");
        for what in ["sensitivity", "specificity"] {
            let e = s[what]["estimate"].as_f64().unwrap();
            assert!(e >= 0.95, "{} {} {what} {e}", s["finding"], s["language"]);
        }
    }
    let n: u64 = scores
        .iter()
        .filter(|s| s["language"] == "nl")
        .map(|s| s["n"].as_u64().unwrap())
        .sum();
    assert!(n >= 300, "at least 300 Dutch labels");
    // A report set naming a finding the vocabulary lacks is refused with its line.
    let bad = scratch("labeller").join("labels.jsonl");
    std::fs::write(
        &bad,
        "{\"id\": \"x\", \"language\": \"nl\", \"text\": \"Geen fractuur.\", \"labels\": {\"fracture\": \"absent\"}}\n\
         {\"id\": \"y\", \"language\": \"nl\", \"text\": \"t\", \"labels\": {\"stroke\": \"absent\"}}\n",
    )
    .unwrap();
    let o = radgate(&["labeller", "evaluate", "--reports", bad.to_str().unwrap()]);
    assert_fails_with(
        &o,
        "labels.jsonl:2: `stroke` is not a finding of the vocabulary",
    );
}
