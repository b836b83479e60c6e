//! People and their professional roles.

use serde::{Deserialize, Serialize};

use crate::ids::ProfessionalId;

/// A professional role as Dutch radiology departments know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Medisch beeldvormings- en bestralingsdeskundige (radiographer).
    Mbb,
    /// MBB'er with an AI endorsement ("AI-aantekening"), may act as gatekeeper.
    MbbAi,
    /// Advanced practitioner (e.g. MSc MIRO).
    Ap,
    /// Physician assistant (BIG-registered).
    Pa,
    Radiologist,
    /// Technical physician (technisch geneeskundige, BIG-registered).
    Tg,
    /// Radiology resident (aios).
    Resident,
    Student,
    EdPhysician,
    /// Programme staff (opleidingsstaf, exam committee) who are not clinicians: they see
    /// the portfolios of their programme's trainees and perform no clinical task.
    ProgrammeStaff,
}

impl Role {
    pub const ALL: [Role; 10] = [
        Role::Mbb,
        Role::MbbAi,
        Role::Ap,
        Role::Pa,
        Role::Radiologist,
        Role::Tg,
        Role::Resident,
        Role::Student,
        Role::EdPhysician,
        Role::ProgrammeStaff,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Role::Mbb => "mbb",
            Role::MbbAi => "mbb_ai",
            Role::Ap => "ap",
            Role::Pa => "pa",
            Role::Radiologist => "radiologist",
            Role::Tg => "tg",
            Role::Resident => "resident",
            Role::Student => "student",
            Role::EdPhysician => "ed_physician",
            Role::ProgrammeStaff => "programme_staff",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.code() == s)
    }

    /// Roles registered in the Dutch BIG register, who can carry responsibility for a
    /// reallocated task themselves.
    pub fn is_big_registered(self) -> bool {
        matches!(
            self,
            Role::Radiologist | Role::Pa | Role::Tg | Role::Resident | Role::EdPhysician
        )
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// A person in the department. Names are synthetic in demo data and never logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Professional {
    pub id: ProfessionalId,
    pub name: String,
    pub role: Role,
    /// BIG registration number, where the role has one.
    pub big_number: Option<String>,
}
