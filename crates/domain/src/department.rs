//! A department's configuration: task catalog, people, task agreements and AI register.
//!
//! Read from the department TOML file; its `[simulation]` table belongs to the simulator
//! and is skipped here.

use chrono::NaiveDate;
use serde::Serialize;

use crate::agreement::{AgreementKind, SupervisionMode, TaskAgreement, TaskType};
use crate::ai::{AiApplication, AiStatus, CeMarking, CeRegime, FindingSpec, ModelCard};
use crate::ai_sr::{Concept, SrDeclaration, SrFinding};
use crate::config::{Diagnostics, Ids, Located, Reader, Table, parsed};
use crate::ids::{AiAppId, FindingCode, ProfessionalId, TaskTypeId};
use crate::professional::{Professional, Role};
use crate::programme::{Programme, Trainee, parse_programme, parse_trainee};
use crate::rubric::{Rubric, parse_rubric};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Department {
    pub name: String,
    pub sites: Vec<String>,
    /// The radiology AI officer: receives monitoring alarms and alone clears them.
    pub raio: Option<ProfessionalId>,
    /// Who is told of received studies that could not be routed (the reconciliation list).
    pub reconciler: Option<ProfessionalId>,
    pub tasks: Vec<TaskType>,
    pub professionals: Vec<Professional>,
    pub agreements: Vec<TaskAgreement>,
    pub ai_applications: Vec<AiApplication>,
    pub programmes: Vec<Programme>,
    pub trainees: Vec<Trainee>,
    pub rubrics: Vec<Rubric>,
    pub institutions: Vec<crate::placement::Institution>,
    pub placements: Vec<crate::placement::Placement>,
    pub theses: Vec<crate::thesis::ThesisPlan>,
}

impl Department {
    pub fn task(&self, id: &str) -> Option<&TaskType> {
        self.tasks.iter().find(|t| t.id.as_str() == id)
    }

    pub fn agreements_for<'a>(&'a self, task: &'a str) -> impl Iterator<Item = &'a TaskAgreement> {
        self.agreements
            .iter()
            .filter(move |a| a.task.as_str() == task)
    }

    pub fn ai_application(&self, id: &str) -> Option<&AiApplication> {
        self.ai_applications.iter().find(|a| a.id.as_str() == id)
    }

    /// The certificate kinds that count for anything here: AI literacy (a condition of every
    /// AI-supported task) and those the task agreements require. Others are refused when
    /// recorded, so that a misspelt kind is not silently worthless.
    pub fn certificate_kinds(&self) -> Vec<&str> {
        let mut kinds: Vec<&str> = std::iter::once(crate::portfolio::AI_LITERACY)
            .chain(
                self.agreements
                    .iter()
                    .filter_map(|a| a.requirements.as_ref())
                    .flat_map(|r| r.certificates.iter().map(String::as_str)),
            )
            .collect();
        kinds.sort_unstable();
        kinds.dedup();
        kinds
    }

    /// An AI result as the register says it means ([`crate::ai::read_result`]).
    pub fn read_ai_result(
        &self,
        r: &crate::ai::AiResult,
    ) -> Result<crate::ai::AiResult, crate::ai::ResultRefusal> {
        crate::ai::read_result(&self.ai_applications, r)
    }

    pub fn trainee(&self, person: &ProfessionalId) -> Option<&Trainee> {
        self.trainees.iter().find(|t| &t.person == person)
    }

    pub fn rubric(&self, id: &str) -> Option<&Rubric> {
        self.rubrics.iter().find(|r| r.id == id)
    }

    pub fn thesis(&self, trainee: &ProfessionalId) -> Option<&crate::thesis::ThesisPlan> {
        self.theses.iter().find(|t| &t.trainee == trainee)
    }

    /// Whether `institution` is one of the partner institutions.
    pub fn is_partner(&self, institution: &str) -> bool {
        self.institutions
            .iter()
            .any(|i| i.id == institution && i.partner)
    }

    pub fn programme(&self, id: &str) -> Option<&Programme> {
        self.programmes.iter().find(|p| p.id == id)
    }

    pub fn professional(&self, id: &str) -> Option<&Professional> {
        self.professionals.iter().find(|p| p.id.as_str() == id)
    }

    /// Whether someone in `role` may perform `task` on `day`; the reasons are in
    /// [`crate::authz::may_perform`].
    pub fn role_may_perform(&self, role: Role, task: &str, day: NaiveDate) -> bool {
        crate::authz::may_perform(role, task, self, day).is_ok()
    }

    /// Parses a department file, reporting every problem with its line.
    pub fn parse(text: &str) -> Result<Department, Diagnostics> {
        let mut r = Reader::new(text);
        let Some(doc) = r.parse() else {
            return Err(r.into_result(()).unwrap_err());
        };
        let mut top = Table::new(&doc, "the department file", 1);
        top.skip("simulation");
        let (name, sites, raio, reconciler) = match top.table(&mut r, "department") {
            Some(mut t) => {
                t.name = "[department]".into();
                let name = t.req_string(&mut r, "name").map(|n| n.value);
                let sites = t.strings(&mut r, "sites").map(|s| s.value);
                let raio = t.string(&mut r, "raio");
                let reconciler = t.string(&mut r, "reconciler");
                t.finish(&mut r);
                (
                    name.unwrap_or_default(),
                    sites.unwrap_or_default(),
                    raio,
                    reconciler,
                )
            }
            None => {
                r.error(1, "the department file is missing the [department] table");
                (String::new(), Vec::new(), None, None)
            }
        };

        let mut tasks = Vec::new();
        let mut task_ids = Ids::new("task");
        for mut t in top.tables(&mut r, "task") {
            let id = task_ids.read(&mut r, &mut t);
            let id = id.and_then(|v| parsed(&mut r, v, TaskTypeId::parse));
            let name = t.string(&mut r, "name").map(|n| n.value);
            let ai_supported = t.boolean(&mut r, "ai_supported").is_some_and(|b| b.value);
            let radiologist_only = t
                .boolean(&mut r, "radiologist_only")
                .is_some_and(|b| b.value);
            t.finish(&mut r);
            if let Some(id) = id {
                tasks.push(TaskType {
                    name: name.unwrap_or_else(|| id.to_string()),
                    id,
                    ai_supported,
                    radiologist_only,
                });
            }
        }

        let mut professionals = Vec::new();
        let mut person_ids = Ids::new("professional");
        for mut t in top.tables(&mut r, "professional") {
            let id = person_ids.read(&mut r, &mut t);
            let id = id.and_then(|v| parsed(&mut r, v, ProfessionalId::parse));
            let name = t.req_string(&mut r, "name").map(|n| n.value);
            let role = t.req_string(&mut r, "role").and_then(|v| role(&mut r, v));
            let big_number = t.string(&mut r, "big_number").map(|b| b.value);
            t.finish(&mut r);
            if let (Some(id), Some(name), Some(role)) = (id, name, role) {
                professionals.push(Professional {
                    id,
                    name,
                    role,
                    big_number,
                });
            }
        }

        let mut agreements = Vec::new();
        let mut agreement_ids = Ids::new("agreement");
        for mut t in top.tables(&mut r, "agreement") {
            let id = agreement_ids.read(&mut r, &mut t);
            if let Some(a) = agreement(&mut r, &mut t, id, &tasks, &professionals) {
                agreements.push(a);
            }
            t.finish(&mut r);
        }

        let mut ai_applications = Vec::new();
        let mut app_ids = Ids::new("AI application");
        for mut t in top.tables(&mut r, "ai_application") {
            let id = app_ids.read(&mut r, &mut t);
            if let Some(a) = ai_application(&mut r, &mut t, id) {
                ai_applications.push(a);
            }
            t.finish(&mut r);
        }
        let mut programmes = Vec::new();
        let mut programme_ids = Ids::new("programme");
        for mut t in top.tables(&mut r, "programme") {
            let id = programme_ids.read(&mut r, &mut t);
            if let Some(p) = parse_programme(&mut r, &mut t, id, &professionals) {
                programmes.push(p);
            }
            t.finish(&mut r);
        }
        let mut trainees: Vec<Trainee> = Vec::new();
        for mut t in top.tables(&mut r, "trainee") {
            let line = t.line;
            if let Some(tr) = parse_trainee(&mut r, &mut t, &professionals, &programmes) {
                if trainees.iter().any(|x| x.person == tr.person) {
                    r.error(line, format!("trainee `{}` is listed twice", tr.person));
                } else {
                    trainees.push(tr);
                }
            }
            t.finish(&mut r);
        }
        let mut institutions = Vec::new();
        let mut institution_ids = Ids::new("institution");
        for mut t in top.tables(&mut r, "institution") {
            let id = institution_ids.read(&mut r, &mut t);
            if let Some(i) = crate::placement::parse_institution(&mut r, &mut t, id) {
                institutions.push(i);
            }
            t.finish(&mut r);
        }
        let mut placements = Vec::new();
        let mut placement_ids = Ids::new("placement");
        for mut t in top.tables(&mut r, "placement") {
            let id = placement_ids.read(&mut r, &mut t);
            if let Some(p) =
                crate::placement::parse_placement(&mut r, &mut t, id, &professionals, &institutions)
            {
                placements.push(p);
            }
            t.finish(&mut r);
        }
        let mut theses: Vec<crate::thesis::ThesisPlan> = Vec::new();
        for mut t in top.tables(&mut r, "thesis") {
            let line = t.line;
            if let Some(th) = crate::thesis::parse_thesis(&mut r, &mut t, &trainees) {
                if theses.iter().any(|x| x.trainee == th.trainee) {
                    r.error(line, format!("`{}` has two theses", th.trainee));
                } else {
                    theses.push(th);
                }
            }
            t.finish(&mut r);
        }
        let mut rubrics = Vec::new();
        let mut rubric_ids = Ids::new("rubric");
        for mut t in top.tables(&mut r, "rubric") {
            let id = rubric_ids.read(&mut r, &mut t);
            if let Some(x) = parse_rubric(&mut r, &mut t, id) {
                rubrics.push(x);
            }
            t.finish(&mut r);
        }
        top.finish(&mut r);
        let raio =
            raio.and_then(
                |v| match professionals.iter().find(|p| p.id.as_str() == v.value) {
                    Some(p) if p.role == Role::Radiologist => Some(p.id.clone()),
                    Some(p) => {
                        r.error(
                            v.line,
                            format!("raio `{}` must be a radiologist, is {}", v.value, p.role),
                        );
                        None
                    }
                    None => {
                        r.error(
                            v.line,
                            format!("raio `{}` is not a known professional", v.value),
                        );
                        None
                    }
                },
            );
        let reconciler = reconciler.and_then(|v| {
            let found = professionals.iter().find(|p| p.id.as_str() == v.value);
            if found.is_none() {
                r.error(
                    v.line,
                    format!("reconciler `{}` is not a known professional", v.value),
                );
            }
            found.map(|p| p.id.clone())
        });

        r.into_result(Department {
            name,
            sites,
            raio,
            reconciler,
            tasks,
            professionals,
            agreements,
            ai_applications,
            programmes,
            trainees,
            rubrics,
            institutions,
            placements,
            theses,
        })
    }
}

fn role(r: &mut Reader, v: Located<String>) -> Option<Role> {
    let found = Role::parse(&v.value);
    if found.is_none() {
        let known: Vec<_> = Role::ALL.iter().map(|r| r.code()).collect();
        r.error(
            v.line,
            format!("unknown role `{}` (known: {})", v.value, known.join(", ")),
        );
    }
    found
}

fn agreement(
    r: &mut Reader,
    t: &mut Table,
    id: Option<Located<String>>,
    tasks: &[TaskType],
    people: &[Professional],
) -> Option<TaskAgreement> {
    let task = t.req_string(r, "task");
    if let Some(task) = &task {
        match tasks.iter().find(|k| k.id.as_str() == task.value) {
            None => r.error(
                task.line,
                format!("{}: task `{}` is not in the task catalog", t.name, task.value),
            ),
            Some(k) if k.radiologist_only => r.error(
                task.line,
                format!(
                    "{}: task `{}` is the radiologist's own (radiologist_only) and cannot be delegated",
                    t.name, task.value
                ),
            ),
            Some(_) => {}
        }
    }
    let task = task.and_then(|v| parsed(r, v, TaskTypeId::parse));
    let kind = t
        .req_string(r, "kind")
        .and_then(|v| match v.value.as_str() {
            "delegation" => Some(AgreementKind::Delegation),
            "reallocation" => Some(AgreementKind::Reallocation),
            other => {
                r.error(
                    v.line,
                    format!("unknown agreement kind `{other}` (known: delegation, reallocation)"),
                );
                None
            }
        });
    let roles = t.list(r, "permitted_roles", role);
    let roles_line = roles.as_ref().map_or(t.line, |l| l.line);
    let permitted_roles: Vec<Role> = roles.map_or_else(Vec::new, |l| l.value);
    if permitted_roles.is_empty() {
        r.error(
            roles_line,
            format!("{}: `permitted_roles` must name at least one role", t.name),
        );
    }
    if kind == Some(AgreementKind::Reallocation) {
        // Taakherschikking moves responsibility to the performer, which the law only
        // allows for BIG-registered professionals.
        for role in permitted_roles.iter().filter(|r| !r.is_big_registered()) {
            r.error(
                roles_line,
                format!(
                    "{}: reallocation (taakherschikking) needs BIG-registered performers, `{role}` is not",
                    t.name
                ),
            );
        }
    }
    let fraction = t.float(r, "sample_fraction");
    let supervision = t
        .req_string(r, "supervision")
        .and_then(|v| match v.value.as_str() {
            "authorize_each" => Some(SupervisionMode::AuthorizeEach),
            "none" => Some(SupervisionMode::None),
            "sample_review" => match &fraction {
                Some(f) if f.value > 0.0 && f.value <= 1.0 => {
                    Some(SupervisionMode::SampleReview { fraction: f.value })
                }
                Some(f) => {
                    r.error(
                        f.line,
                        format!("`sample_fraction` must lie in (0, 1], found {}", f.value),
                    );
                    None
                }
                None => {
                    r.error(
                        v.line,
                        "supervision `sample_review` needs `sample_fraction`",
                    );
                    None
                }
            },
            other => {
                r.error(
                    v.line,
                    format!(
                        "unknown supervision `{other}` (known: authorize_each, sample_review, none)"
                    ),
                );
                None
            }
        });
    let name = t.name.clone();
    let responsible: Vec<ProfessionalId> = t
        .list(r, "responsible", |r, id| {
            match people.iter().find(|p| p.id.as_str() == id.value) {
                None => r.error(
                    id.line,
                    format!(
                        "{name}: responsible `{}` is not a known professional",
                        id.value
                    ),
                ),
                Some(p) if p.role != Role::Radiologist => r.error(
                    id.line,
                    format!(
                        "{name}: responsible specialist `{}` must be a radiologist, is {}",
                        id.value, p.role
                    ),
                ),
                Some(p) => return Some(p.id.clone()),
            }
            None
        })
        .map_or_else(Vec::new, |l| l.value);
    if responsible.is_empty() && !t.has("responsible") {
        r.error(
            t.line,
            format!("{} must name its `responsible` specialist(s)", t.name),
        );
    }
    let valid_from = t.date(r, "valid_from");
    if !t.has("valid_from") {
        r.error(
            t.line,
            format!("{} is missing required key `valid_from`", t.name),
        );
    }
    let valid_until = t.date(r, "valid_until").map(|d| d.value);
    let requirements = t.table(r, "requirements").and_then(|mut q| {
        q.name = format!("{}.requirements", t.name);
        let assessments = q.req_count(r, "assessments").map(|v| v.value);
        let within_months = q.req_count(r, "within_months").map(|v| v.value);
        let min_entrustment = q.req_count(r, "min_entrustment").and_then(|v| {
            let level = u8::try_from(v.value).unwrap_or(0);
            match crate::portfolio::Entrustment::try_from(level) {
                Ok(e) => Some(e),
                Err(e) => {
                    r.error(v.line, e);
                    None
                }
            }
        });
        let distinct_assessors = q.count(r, "distinct_assessors").map_or(1, |v| v.value);
        let radiologist_assessor = q
            .boolean(r, "radiologist_assessor")
            .is_some_and(|v| v.value);
        let certificates = q
            .strings(r, "certificates")
            .map_or_else(Vec::new, |v| v.value);
        q.finish(r);
        Some(crate::portfolio::Requirements {
            assessments: assessments?,
            within_months: within_months?,
            min_entrustment: min_entrustment?,
            distinct_assessors,
            radiologist_assessor,
            certificates,
        })
    });
    let discrepancy_limits =
        t.table(r, "discrepancy_limits")
            .map_or_else(crate::quality::Limits::default, |mut q| {
                q.name = format!("{}.discrepancy_limits", t.name);
                let defaults = crate::quality::Limits::default();
                let mut rate = |r: &mut Reader, key: &'static str, default: f64| {
                    q.float(r, key).map_or(default, |v| {
                        if v.value > 0.0 && v.value < 1.0 {
                            v.value
                        } else {
                            r.error(
                                v.line,
                                format!("{key} must be a rate between 0 and 1, got {}", v.value),
                            );
                            default
                        }
                    })
                };
                let major = rate(r, "major", defaults.major);
                let minor = rate(r, "minor", defaults.minor);
                let window = q.count(r, "window").map_or(defaults.window, |v| {
                    if v.value == 0 {
                        r.error(v.line, "window must be at least 1 report");
                    }
                    v.value.max(1) as usize
                });
                q.finish(r);
                crate::quality::Limits {
                    major,
                    minor,
                    window,
                }
            });
    let npv_interval_width = t.float(r, "npv_interval_width").and_then(|v| {
        if v.value > 0.0 && v.value < 1.0 {
            Some(v.value)
        } else {
            r.error(
                v.line,
                format!(
                    "npv_interval_width must lie between 0 and 1, got {}",
                    v.value
                ),
            );
            None
        }
    });
    Some(TaskAgreement {
        id: id?.value,
        task: task?,
        kind: kind?,
        permitted_roles,
        supervision: supervision?,
        responsible_specialists: responsible,
        valid_from: valid_from?.value,
        valid_until,
        requirements,
        discrepancy_limits,
        npv_interval_width,
    })
}

fn ai_application(
    r: &mut Reader,
    t: &mut Table,
    id: Option<Located<String>>,
) -> Option<AiApplication> {
    let id = id.and_then(|v| parsed(r, v, AiAppId::parse));
    let name = t.req_string(r, "name").map(|v| v.value);
    let vendor = t.string(r, "vendor").map(|v| v.value).unwrap_or_default();
    let version = t.req_string(r, "version").map(|v| v.value);
    let intended_use = t
        .string(r, "intended_use")
        .map(|v| v.value)
        .unwrap_or_default();
    let modalities = t.strings(r, "modalities").map(|v| v.value);
    if modalities.is_none() {
        r.error(t.line, format!("{} must list its `modalities`", t.name));
    }
    let body_parts = t
        .strings(r, "body_parts")
        .map(|v| v.value)
        .unwrap_or_default();
    let status = t.req_string(r, "status").and_then(|v| {
        let s = AiStatus::parse(&v.value);
        if s.is_none() {
            r.error(
                v.line,
                format!(
                    "unknown status `{}` (known: shadow, pilot, production, suspended, retired)",
                    v.value
                ),
            );
        }
        s
    });
    let ai_act_risk = t
        .string(r, "ai_act_risk")
        .map_or_else(|| "high".into(), |v| v.value);
    let ce = t.table(r, "ce").and_then(|mut c| {
        let class = c.req_string(r, "class").map(|v| v.value);
        let regime = c
            .req_string(r, "regime")
            .and_then(|v| match v.value.as_str() {
                "mdr" => Some(CeRegime::Mdr),
                "mdd" => Some(CeRegime::Mdd),
                other => {
                    r.error(
                        v.line,
                        format!("unknown CE regime `{other}` (known: mdr, mdd)"),
                    );
                    None
                }
            });
        let certificate_expires = c.date(r, "certificate_expires").map(|d| d.value);
        c.finish(r);
        Some(CeMarking {
            class: class?,
            regime: regime?,
            certificate_expires,
        })
    });
    let model_card = t
        .table(r, "model_card")
        .map_or_else(ModelCard::default, |mut m| {
            let card = ModelCard {
                training_data: m.string(r, "training_data").map(|v| v.value),
                validation: m.string(r, "validation").map(|v| v.value),
                known_limits: m.string(r, "known_limits").map(|v| v.value),
            };
            m.finish(r);
            card
        });
    let fallback_on_alarm = t.boolean(r, "fallback_on_alarm").is_some_and(|v| v.value);
    let sr = t.table(r, "sr").and_then(|mut s| {
        let template = s.string(r, "template");
        if let Some(v) = &template
            && v.value != "1500"
        {
            r.error(
                v.line,
                format!(
                    "SR template `{}` is not one radgate reads (known: 1500)",
                    v.value
                ),
            );
        }
        let algorithm_name = s.req_string(r, "algorithm_name").map(|v| v.value);
        s.finish(r);
        Some(SrDeclaration {
            algorithm_name: algorithm_name?,
        })
    });
    let mut findings = Vec::new();
    for mut f in t.tables(r, "finding") {
        f.name = format!("{} finding", t.name);
        let code = f
            .req_string(r, "code")
            .and_then(|v| parsed(r, v, FindingCode::parse));
        let range = match f.floats(r, "score_range") {
            Some(v) if v.value.len() == 2 && v.value[0] < v.value[1] => (v.value[0], v.value[1]),
            Some(v) => {
                r.error(v.line, "`score_range` must be [low, high] with low < high");
                (0.0, 1.0)
            }
            None => (0.0, 1.0),
        };
        let mut point = |key| {
            let v = f.float(r, key)?;
            if v.value < range.0 || v.value > range.1 {
                r.error(
                    v.line,
                    format!(
                        "`{key}` {} lies outside the score range [{}, {}]",
                        v.value, range.0, range.1
                    ),
                );
            }
            Some(v.value)
        };
        let critical_at = point("critical_at");
        let normal_below = point("normal_below");
        let positive_at = point("positive_at");
        let sensitivity_floor = f.float(r, "sensitivity_floor").and_then(|v| {
            if v.value > 0.0 && v.value < 1.0 {
                Some(v.value)
            } else {
                r.error(
                    v.line,
                    format!(
                        "sensitivity_floor must lie between 0 and 1, got {}",
                        v.value
                    ),
                );
                None
            }
        });
        let finding_sr = f.table(r, "sr").and_then(|mut s| {
            let mut concept = |key: &'static str| {
                let v = s.req_string(r, key)?;
                let c = Concept::parse(&v.value);
                if c.is_none() {
                    r.error(
                        v.line,
                        format!("`{key}` must be a concept `SCHEME:VALUE`, such as `SCT:59282003`"),
                    );
                }
                c
            };
            let (finding, score) = (concept("finding"), concept("score"));
            let unit = s.req_string(r, "unit").map(|v| v.value);
            let finding_meaning = s.string(r, "finding_meaning").map(|v| v.value);
            let score_meaning = s.string(r, "score_meaning").map(|v| v.value);
            s.finish(r);
            Some(SrFinding {
                finding: finding?,
                score: score?,
                unit: unit?,
                finding_meaning,
                score_meaning,
            })
        });
        f.finish(r);
        if let Some(code) = code {
            findings.push(FindingSpec {
                code,
                score_range: range,
                critical_at,
                normal_below,
                positive_at,
                sensitivity_floor,
                sr: finding_sr,
            });
        }
    }
    Some(AiApplication {
        id: id?,
        name: name?,
        vendor,
        version: version?,
        intended_use,
        modalities: modalities?,
        body_parts,
        status: status?,
        ce,
        ai_act_risk,
        model_card,
        findings,
        fallback_on_alarm,
        sr,
    })
}
