//! `radgate portfolio import|certificate` and `radgate authz explain`.

use std::path::Path;

use anyhow::{Result, bail};
use chrono::{NaiveDate, Utc};
use radgate_domain::ids::{ProfessionalId, TaskTypeId};
use radgate_domain::portfolio::{Authorization, AuthorizationStatus, Certificate, derive};
use radgate_domain::portfolio_csv::parse_assessments;

use crate::Format;
use crate::load::{self, Reported};
use crate::serve_cmd::Target;

pub fn import(target: Target, department: &Path, file: &Path) -> Result<()> {
    let (dept, _) = load::department(department)?;
    let text = load::read(file)?;
    let assessments = match parse_assessments(&text, &dept, Utc::now().date_naive()) {
        Ok(a) => a,
        Err(rows) => {
            for e in &rows {
                eprintln!("{}:{}: {}", file.display(), e.row, e.message);
            }
            eprintln!(
                "{}: nothing imported ({} bad row(s))",
                file.display(),
                rows.len()
            );
            return Err(Reported.into());
        }
    };
    load::runtime()?.block_on(async {
        let store = target.open().await?;
        let actor = format!(
            "import:{}",
            file.file_name()
                .map_or_else(String::new, |f| f.to_string_lossy().into_owned())
        );
        let done = store
            .import_assessments(&assessments, &actor, Utc::now())
            .await?;
        println!(
            "{}: {} assessment(s) imported, {} already stored",
            file.display(),
            done.created,
            done.unchanged
        );
        Ok(())
    })
}

pub fn certificate(
    target: Target,
    department: &Path,
    person: &str,
    kind: &str,
    valid_until: NaiveDate,
) -> Result<()> {
    let (dept, _) = load::department(department)?;
    let Some(p) = dept.professional(person) else {
        bail!("{}: no professional `{person}`", department.display());
    };
    let known = dept.certificate_kinds();
    if !known.contains(&kind) {
        bail!(
            "--kind: unknown certificate kind `{kind}`; {} knows {}",
            department.display(),
            known.join(", ")
        );
    }
    let c = Certificate {
        holder: p.id.clone(),
        kind: kind.to_string(),
        valid_until,
    };
    load::runtime()?.block_on(async {
        target
            .open()
            .await?
            .put_certificate(&c, "cli", Utc::now())
            .await?;
        println!("certificate `{kind}` of {person} valid until {valid_until} recorded");
        Ok(())
    })
}

pub fn explain(
    target: Target,
    department: &Path,
    person: &str,
    task: &str,
    on: Option<NaiveDate>,
    format: Format,
) -> Result<()> {
    let (dept, _) = load::department(department)?;
    let Some(p) = dept.professional(person) else {
        bail!("{}: no professional `{person}`", department.display());
    };
    let task = TaskTypeId::parse(task).map_err(|e| anyhow::anyhow!("--task: {e}"))?;
    if dept.task(task.as_str()).is_none() {
        bail!("--task: `{task}` is not in the department's task catalog");
    }
    let today = on.unwrap_or_else(|| Utc::now().date_naive());
    let authorization = load::runtime()?.block_on(async {
        let portfolio = target
            .open()
            .await?
            .portfolio(&ProfessionalId::clone(&p.id))
            .await?;
        anyhow::Ok(derive(&p.id, p.role, &task, &dept, &portfolio, today))
    })?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&authorization)?),
        Format::Text => print!("{}", text_of(&authorization, today)),
    }
    Ok(())
}

fn text_of(a: &Authorization, today: NaiveDate) -> String {
    let status = match a.status {
        AuthorizationStatus::Authorized => "authorized",
        AuthorizationStatus::NotYet => "not yet authorized",
        AuthorizationStatus::Expired => "expired",
        AuthorizationStatus::Suspended => "suspended",
    };
    let mut s = format!("{} for {} on {today}: {status}\n", a.professional, a.task);
    if let Some(g) = &a.agreement {
        s.push_str(&format!("agreement   {g}\n"));
    }
    if let Some(sup) = &a.supervision {
        s.push_str(&format!(
            "supervision {}\n",
            serde_json::to_string(sup).unwrap_or_default()
        ));
    }
    if let Some(d) = a.lapses_on {
        s.push_str(&format!("lapses on   {d}\n"));
    }
    if !a.evidence.is_empty() {
        s.push_str(&format!("evidence    {}\n", a.evidence.join(", ")));
    }
    for c in &a.conditions {
        s.push_str(&format!("condition   {c}\n"));
    }
    for m in &a.missing {
        s.push_str(&format!("missing     {m}\n"));
    }
    s
}
