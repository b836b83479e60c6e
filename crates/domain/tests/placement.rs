//! Placements as data and a programme's matching round, on the example department.

use radgate_domain::Department;
use radgate_domain::ids::ProfessionalId;
use radgate_domain::matching::VarietyRule;
use radgate_domain::placement::{PastPlacement, RoundError, RoundRanking, match_round};

const DEPARTMENT: &str = include_str!("../../../examples/department.toml");

fn p(s: &str) -> ProfessionalId {
    ProfessionalId::parse(s).unwrap()
}

fn ranking(t: &str, ranked: &[&str]) -> RoundRanking {
    RoundRanking {
        trainee: p(t),
        ranked: ranked.iter().map(|s| s.to_string()).collect(),
    }
}

#[test]
fn the_example_declares_institutions_placements_and_the_variety_rule() {
    let d = Department::parse(DEPARTMENT).unwrap();
    assert_eq!(d.institutions.len(), 3);
    assert!(d.institutions.iter().filter(|i| i.partner).count() == 2);
    assert_eq!(d.placements.len(), 3);
    let msk = d.placements.iter().find(|p| p.id == "rv-msk").unwrap();
    assert_eq!(
        msk.technical_supervisor.as_deref(),
        Some("Dr. ir. A. de Wit (synthetic)")
    );
    let miro = d.programme("miro-master").unwrap();
    assert_eq!(miro.variety, VarietyRule::NoRepeatKind);
    assert_eq!(miro.matching_seed, 2026);
}

#[test]
fn a_round_places_by_the_rules_and_assigns_partner_technical_supervisors() {
    let d = Department::parse(DEPARTMENT).unwrap();
    let miro = d.programme("miro-master").unwrap();
    // Both want oncology first; ap-smit already did an oncology placement.
    let rankings = [
        ranking("ap-smit", &["rv-oncology", "rv-neuro", "rv-msk"]),
        ranking("ap-dekker", &["rv-oncology", "rv-msk"]),
    ];
    let history = [PastPlacement {
        trainee: p("ap-smit"),
        placement: "rv-oncology".into(),
    }];
    let o = match_round(&d, miro, &rankings, &history).unwrap();
    let of = |t: &str| o.placed.iter().find(|x| x.trainee.as_str() == t).unwrap();
    assert_eq!(of("ap-dekker").placement, "rv-oncology");
    assert_eq!(of("ap-dekker").choice, 1);
    assert_eq!(
        of("ap-smit").placement,
        "rv-neuro",
        "oncology is off ap-smit's list"
    );
    assert_eq!(o.excluded.len(), 1);
    assert_eq!(o.excluded[0].trainee, "ap-smit");
    assert!(o.excluded[0].cost_a_claim, "rv-oncology had a second seat");
    // Neither placement has its own technical supervisor: the partners' list, in turn, by
    // trainee id (ap-dekker before ap-smit).
    assert_eq!(
        of("ap-dekker").technical_supervisor.as_deref(),
        Some("Dr. ir. A. de Wit (synthetic)")
    );
    assert!(of("ap-dekker").technical_assigned);
    assert_eq!(
        of("ap-smit").technical_supervisor.as_deref(),
        Some("Dr. ir. B. Kok (synthetic)")
    );
    assert!((o.shares.first_choice - 0.5).abs() < 1e-12);
    // The same input, the same round.
    assert_eq!(match_round(&d, miro, &rankings, &history).unwrap(), o);
}

#[test]
fn a_round_refuses_strangers_and_unknown_history() {
    let d = Department::parse(DEPARTMENT).unwrap();
    let miro = d.programme("miro-master").unwrap();
    assert!(matches!(
        match_round(&d, miro, &[ranking("mbb-jansen", &["rv-msk"])], &[]),
        Err(RoundError::NotATrainee(..))
    ));
    let past = [PastPlacement {
        trainee: p("ap-smit"),
        placement: "nowhere".into(),
    }];
    assert!(matches!(
        match_round(&d, miro, &[ranking("ap-smit", &["rv-msk"])], &past),
        Err(RoundError::UnknownPast { .. })
    ));
    assert!(matches!(
        match_round(&d, miro, &[ranking("ap-smit", &["nowhere"])], &[]),
        Err(RoundError::Market(_))
    ));
}

#[test]
fn placement_mistakes_are_named_with_their_line() {
    let bad = DEPARTMENT
        .replace(
            "institution = \"rijnvallei\"\ndepartment = \"Radiology\"\nkind = \"neuro\"",
            "institution = \"nowhere\"\ndepartment = \"Radiology\"\nkind = \"neuro\"",
        )
        .replace("variety = \"no_repeat_kind\"", "variety = \"sometimes\"");
    let e: Vec<String> = Department::parse(&bad)
        .unwrap_err()
        .0
        .iter()
        .map(ToString::to_string)
        .collect();
    let e = e.join("\n");
    assert!(e.contains("unknown institution `nowhere`"), "{e}");
    assert!(
        e.contains("variety is `none` or `no_repeat_kind`, not `sometimes`"),
        "{e}"
    );
    assert!(e.contains("line "), "{e}");
}

#[test]
fn the_example_thesis_has_a_complete_team_and_strangers_have_no_thesis() {
    let d = Department::parse(DEPARTMENT).unwrap();
    let plan = d.thesis(&p("ap-smit")).unwrap();
    assert_eq!(plan.team.len(), 2);
    let t = plan.with(None, None);
    assert!(radgate_domain::thesis::check_team(&t, |i| d.is_partner(i)).is_empty());
    assert!(d.is_partner("tu-delft") && !d.is_partner("rijnvallei"));
    let bad = DEPARTMENT.replace(
        "[[thesis]]\ntrainee = \"ap-smit\"",
        "[[thesis]]\ntrainee = \"mbb-jansen\"",
    );
    let e: Vec<String> = Department::parse(&bad)
        .unwrap_err()
        .0
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        e.iter()
            .any(|m| m.contains("thesis of `mbb-jansen`, who is not a trainee")),
        "{e:?}"
    );
}
