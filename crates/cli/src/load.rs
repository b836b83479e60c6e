//! Reading the files a command names, and reporting their problems as `FILE:LINE: reason`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use radgate_domain::config::Diagnostic;
use radgate_domain::policy::check;
use radgate_domain::{Department, Policy};

/// The problems were printed already; the command fails without another message.
#[derive(Debug)]
pub struct Reported;

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("problems reported above")
    }
}

impl std::error::Error for Reported {}

pub fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

pub fn report(path: &Path, problems: &[Diagnostic]) {
    for d in problems {
        eprintln!("{}:{}: {}", path.display(), d.line, d.message);
    }
}

pub fn department(path: &Path) -> Result<(Department, String)> {
    let text = read(path)?;
    match Department::parse(&text) {
        Ok(d) => Ok((d, text)),
        Err(problems) => {
            report(path, &problems.0);
            Err(Reported.into())
        }
    }
}

pub fn policy(path: &Path) -> Result<Policy> {
    let text = read(path)?;
    Policy::parse(&text).map_err(|problems| {
        report(path, &problems.0);
        Reported.into()
    })
}

/// The department a policy is checked against: the one given, else the policy's own
/// `department` (relative to the policy file), else none.
pub fn department_for(
    policy_path: &Path,
    policy: &Policy,
    given: Option<&Path>,
) -> Option<PathBuf> {
    given.map(Path::to_path_buf).or_else(|| {
        policy.department.as_ref().map(|d| {
            policy_path
                .parent()
                .unwrap_or_else(|| Path::new("."))
                .join(d)
        })
    })
}

/// Loads a policy and the department it is written for and refuses a policy with any
/// problem: a policy that fails `policy check` is never used to route.
pub fn checked_policy(
    path: &Path,
    department: Option<&Path>,
) -> Result<(Policy, Option<Department>)> {
    let policy = policy(path)?;
    let dept = match department_for(path, &policy, department) {
        Some(d) => Some(self::department(&d)?.0),
        None => None,
    };
    let problems = check(&policy, dept.as_ref());
    if !problems.is_empty() {
        report(path, &problems);
        return Err(Reported.into());
    }
    Ok((policy, dept))
}

/// The async runtime a command's database work runs on.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("cannot start the async runtime")
}

/// Reads `text` (the contents of `file`) as JSON of type `T`; a problem names the file, the
/// line and the field: `case.json:3: study.acquired_at: premature end of input`.
pub fn json<T: serde::de::DeserializeOwned>(file: &Path, text: &str) -> Result<T> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let line = e.inner().line();
        let path = e.path().to_string();
        if path == "." {
            anyhow::anyhow!("{}:{line}: {}", file.display(), e.inner())
        } else {
            anyhow::anyhow!("{}:{line}: {path}: {}", file.display(), e.inner())
        }
    })
}
