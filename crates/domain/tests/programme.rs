//! Programme monitoring: progress against requirements held as data, the cohort view, the
//! exam committee's sample, and who may see a trainee's portfolio.

use chrono::NaiveDate;
use radgate_domain::Department;
use radgate_domain::authz::{may_monitor_programme, may_view_portfolio, supervisors_of};
use radgate_domain::ids::{ProfessionalId, TaskTypeId};
use radgate_domain::portfolio::{Assessment, AssessmentStatus, AssessorBackground, Entrustment};
use radgate_domain::programme::{ProgressStatus, cohort, progress, sample};

const DEPARTMENT: &str = include_str!("../../../examples/department.toml");

fn dept() -> Department {
    Department::parse(DEPARTMENT).unwrap()
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn id(s: &str) -> ProfessionalId {
    ProfessionalId::parse(s).unwrap()
}

/// A confirmed KKB of `who` scoring every domain but professionalism.
fn kkb(who: &str, n: usize, date: NaiveDate, placement: &str) -> Assessment {
    Assessment {
        id: format!("{who}-{n}"),
        assessee: id(who),
        assessor: id("rad-devries"),
        assessor_background: AssessorBackground::Medical,
        task: TaskTypeId::parse("oncology_preliminary_report").unwrap(),
        placement: placement.into(),
        date,
        scores: [Some(4), Some(4), Some(3), Some(4), Some(4), None],
        entrustment: Entrustment::try_from(3).unwrap(),
        narrative: String::new(),
        status: AssessmentStatus::Confirmed,
    }
}

#[test]
fn the_example_declares_the_miro_programme_and_its_trainees() {
    let d = dept();
    let p = d.programme("miro-master").unwrap();
    assert_eq!(
        (
            p.requirements.assessments,
            p.requirements.from_year,
            p.requirements.to_year,
            p.requirements.per_domain
        ),
        (60, 2, 3, 6)
    );
    assert_eq!(
        p.requirements.per_placement,
        [("oncology".to_string(), 10), ("msk".to_string(), 10)]
    );
    // Programme started 2024-09-01: years 2-3 run 2025-09-01 to 2027-08-31.
    let smit = d.trainee(&id("ap-smit")).unwrap();
    assert_eq!(p.period(smit.started), (day(2025, 9, 1), day(2027, 8, 31)));
}

#[test]
fn only_confirmed_assessments_inside_the_period_count_and_unobserved_domains_do_not() {
    let d = dept();
    let p = d.programme("miro-master").unwrap();
    let smit = d.trainee(&id("ap-smit")).unwrap();
    let mut a = vec![
        kkb("ap-smit", 1, day(2025, 8, 31), "oncology"), // one day before the period
        kkb("ap-smit", 2, day(2025, 9, 1), "oncology"),  // first day
        kkb("ap-smit", 3, day(2026, 1, 10), "msk"),
        kkb("ap-smit", 4, day(2026, 1, 11), "msk"),
        kkb("ap-dekker", 5, day(2026, 1, 11), "msk"), // someone else's
    ];
    a.push(Assessment {
        status: AssessmentStatus::Requested,
        ..kkb("ap-smit", 6, day(2026, 1, 12), "msk")
    });
    let today = day(2026, 3, 1);
    let pr = progress(smit, p, &a, today);
    assert_eq!(pr.total.have, 3);
    let domain = |name: &str| pr.per_domain.iter().find(|c| c.name == name).unwrap();
    assert_eq!(domain("expertise").have, 3);
    assert_eq!(domain("professionalism").have, 0, "not observed");
    let placement = |name: &str| pr.per_placement.iter().find(|c| c.name == name).unwrap();
    assert_eq!((placement("oncology").have, placement("msk").have), (1, 2));
    // 182 of 730 days have passed: a quarter of 60 (14) is due by now; 3 is behind.
    assert_eq!(pr.total.due_by_now, 14);
    assert_eq!(pr.status, ProgressStatus::Behind);
    assert_eq!(pr.gaps[0], "assessments in total: 3 of 60, 14 due by now");
    assert!(
        pr.gaps
            .contains(&"domain professionalism: 0 of 6, 1 due by now".to_string()),
        "{:?}",
        pr.gaps
    );
}

#[test]
fn on_track_complete_and_not_started() {
    let d = dept();
    let p = d.programme("miro-master").unwrap();
    let smit = d.trainee(&id("ap-smit")).unwrap();
    // 60 assessments over the first year of the period, every domain scored.
    let all: Vec<Assessment> = (0..60)
        .map(|n| {
            let mut a = kkb(
                "ap-smit",
                n,
                day(2025, 9, 1) + chrono::Days::new(n as u64 * 6),
                if n % 2 == 0 { "oncology" } else { "msk" },
            );
            a.scores[5] = Some(4);
            a
        })
        .collect();
    assert_eq!(
        progress(smit, p, &all, day(2027, 8, 31)).status,
        ProgressStatus::Complete
    );
    // Half of them by a third of the way through: ahead of the pro-rata share.
    let early = progress(smit, p, &all[..30], day(2026, 1, 1));
    assert_eq!(early.status, ProgressStatus::OnTrack, "{:?}", early.gaps);
    // At the end of the period with one domain short, the trainee is behind on it.
    let mut short = all.clone();
    for a in short.iter_mut().skip(5) {
        a.scores[5] = None;
    }
    let end = progress(smit, p, &short, day(2027, 8, 31));
    assert_eq!(end.status, ProgressStatus::Behind);
    assert_eq!(end.gaps, ["domain professionalism: 5 of 6, 6 due by now"]);
    let dekker = d.trainee(&id("ap-dekker")).unwrap();
    assert_eq!(
        progress(dekker, p, &[], day(2026, 6, 1)).status,
        ProgressStatus::NotStarted,
        "years 2-3 of a 2025 starter begin in September 2026"
    );
}

#[test]
fn the_cohort_lists_those_behind_first() {
    let d = dept();
    let p = d.programme("miro-master").unwrap();
    let today = day(2026, 10, 1);
    let view = cohort(
        p,
        &d.trainees,
        |who| {
            if who.as_str() == "ap-dekker" {
                (0..3)
                    .map(|n| kkb("ap-dekker", n, day(2026, 9, 10), "msk"))
                    .collect()
            } else {
                vec![]
            }
        },
        today,
    );
    let order: Vec<(&str, ProgressStatus)> =
        view.iter().map(|p| (p.person.as_str(), p.status)).collect();
    assert_eq!(
        order,
        [
            ("ap-smit", ProgressStatus::Behind),
            ("ap-dekker", ProgressStatus::OnTrack)
        ]
    );
}

#[test]
fn the_committee_sample_is_reproducible_exact_in_size_and_stable_as_assessments_arrive() {
    let mut all: Vec<Assessment> = (0..200)
        .map(|n| kkb("ap-smit", n, day(2026, 1, 1), "msk"))
        .collect();
    all.push(Assessment {
        status: AssessmentStatus::Requested,
        ..kkb("ap-smit", 999, day(2026, 1, 1), "msk")
    });
    let ids = |s: Vec<&Assessment>| s.into_iter().map(|a| a.id.clone()).collect::<Vec<_>>();
    let first = ids(sample(&all, 0.1, 42));
    assert_eq!(first.len(), 20, "ceil(10% of 200 confirmed)");
    assert!(
        !first.contains(&"ap-smit-999".to_string()),
        "requested ones are not drawn"
    );
    assert_eq!(first, ids(sample(&all, 0.1, 42)), "same seed, same sample");
    assert_ne!(
        first,
        ids(sample(&all, 0.1, 43)),
        "another seed, another sample"
    );
    // Adding assessments keeps earlier picks unless a newcomer outranks them.
    let more: Vec<Assessment> = (200..220)
        .map(|n| kkb("ap-smit", n, day(2026, 2, 1), "msk"))
        .collect();
    all.extend(more);
    let later = ids(sample(&all, 0.1, 42));
    assert_eq!(later.len(), 22);
    let kept = first.iter().filter(|i| later.contains(i)).count();
    assert!(kept >= 18, "only {kept} of 20 kept");
    assert_eq!(sample(&all, 0.0, 1).len(), 0);
    assert_eq!(sample(&all, 1.0, 1).len(), 220);
}

#[test]
fn a_portfolio_is_visible_to_its_owner_supervisors_and_programme_staff_and_to_no_peer() {
    let d = dept();
    let today = day(2026, 6, 1);
    let smit = d.professional("ap-smit").unwrap();
    let jansen = d.professional("mbb-jansen").unwrap();
    let sees = |viewer: &str, subject| may_view_portfolio(&id(viewer), subject, &d, today);
    assert!(sees("ap-smit", smit), "the owner");
    assert!(
        sees("rad-devries", smit),
        "named supervisor and responsible specialist"
    );
    assert!(sees("edu-koster", smit), "programme staff");
    assert!(!sees("ap-dekker", smit), "a fellow trainee is a peer");
    assert!(!sees("mbb-jansen", smit), "a peer");
    assert!(!sees("pa-mulder", smit), "a peer with another role");
    assert!(
        !sees("edu-koster", jansen),
        "programme staff see their programme's trainees only"
    );
    assert!(sees("rad-devries", jansen), "responsible for gatekeeping");
    assert_eq!(
        supervisors_of(smit, &d, today),
        [id("rad-bakker"), id("rad-devries")]
    );
    let p = d.programme("miro-master").unwrap();
    assert!(may_monitor_programme(&id("edu-koster"), p));
    assert!(!may_monitor_programme(&id("rad-devries"), p));
}

#[test]
fn programme_mistakes_are_reported_with_their_lines() {
    let bad = DEPARTMENT
        .replace("to_year = 3", "to_year = 1")
        .replace(
            "programme = \"miro-master\"\nstarted = 2025-09-01",
            "programme = \"miro\"\nstarted = 2025-09-01",
        )
        .replace("staff = [\"edu-koster\"]", "staff = [\"edu-nobody\"]");
    let problems: Vec<String> = Department::parse(&bad)
        .unwrap_err()
        .0
        .into_iter()
        .map(|d| format!("{}: {}", d.line, d.message))
        .collect();
    let all = problems.join("\n");
    for needle in [
        "to_year (1) is before from_year (2)",
        "unknown programme `miro` (known: miro-master)",
        "staff `edu-nobody` is not a known professional",
    ] {
        assert!(all.contains(needle), "{needle}: {all}");
    }
}
