//! Identifiers that can only exist in a valid form.
//!
//! A handler or rule that holds an [`AccessionNumber`] or a [`TaskTypeId`] never checks it
//! again: the checks live in `parse`, and serde goes through `parse` too.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} {value:?}: {reason}")]
pub struct IdError {
    pub kind: &'static str,
    pub value: String,
    pub reason: &'static str,
}

/// Defines a string newtype whose constructor validates with `$check`.
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                let check: fn(&str) -> Result<(), &'static str> = $check;
                match check(&value) {
                    Ok(()) => Ok(Self(value)),
                    Err(reason) => Err(IdError { kind: $kind, value, reason }),
                }
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, IdError> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

/// Machine names used in configuration: lowercase ASCII letters, digits, `_`, `-`, `.`.
fn code(s: &str) -> Result<(), &'static str> {
    if s.is_empty() {
        return Err("must not be empty");
    }
    if s.len() > 64 {
        return Err("must be at most 64 characters");
    }
    if !s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()) {
        return Err("must start with a lowercase letter or digit");
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.'))
    {
        return Err("may only hold lowercase letters, digits, '_', '-' and '.'");
    }
    Ok(())
}

id_type!(
    /// A kind of work in the department's task catalog, e.g. `cxr_gatekeeping`.
    TaskTypeId, "task type", code
);
id_type!(
    /// An AI application in the department's register, e.g. `pe-detect`.
    AiAppId, "AI application id", code
);
id_type!(
    /// A coded finding, e.g. `pulmonary_embolism`.
    FindingCode, "finding code", code
);
id_type!(
    /// A professional's id in the department, e.g. `rad-jansen`.
    ProfessionalId, "professional id", code
);
id_type!(
    /// A routing rule's id, unique within a policy.
    RuleId, "rule id", code
);

id_type!(
    /// The RIS accession number: DICOM (0008,0050), value representation SH.
    AccessionNumber,
    "accession number",
    |s| {
        if s.trim().is_empty() {
            return Err("must not be empty");
        }
        if s.len() > 16 {
            return Err("must be at most 16 characters (DICOM SH)");
        }
        // DICOM's default repertoire: printable ASCII; SH excludes the backslash.
        if !s.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b'\\') {
            return Err("must be printable ASCII without backslashes");
        }
        Ok(())
    }
);

id_type!(
    /// A DICOM UID (value representation UI): digits in dot-separated components.
    StudyInstanceUid,
    "Study Instance UID",
    |s| {
        if s.is_empty() || s.len() > 64 {
            return Err("must be 1 to 64 characters");
        }
        for part in s.split('.') {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err("must be digits separated by single dots");
            }
            if part.len() > 1 && part.starts_with('0') {
                return Err("components must not have leading zeros");
            }
        }
        Ok(())
    }
);

id_type!(
    /// A pseudonymous patient id; radgate never needs the name for routing or analytics.
    PatientId,
    "patient id",
    |s| {
        if s.trim().is_empty() || s.len() > 64 {
            return Err("must be 1 to 64 characters");
        }
        // HL7 CX identifiers as RIS and PACS exchange them: printable ASCII.
        if !s.bytes().all(|b| (b' '..=b'~').contains(&b)) {
            return Err("must be printable ASCII");
        }
        Ok(())
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_lowercase_machine_names() {
        assert!(TaskTypeId::parse("cxr_gatekeeping").is_ok());
        assert!(TaskTypeId::parse("CXR").is_err());
        assert!(TaskTypeId::parse("").is_err());
        assert!(TaskTypeId::parse("a b").is_err());
    }

    #[test]
    fn uid_rejects_leading_zero_and_empty_component() {
        assert!(StudyInstanceUid::parse("1.2.840.10008.1").is_ok());
        assert!(StudyInstanceUid::parse("1.02").is_err());
        assert!(StudyInstanceUid::parse("1..2").is_err());
        assert!(StudyInstanceUid::parse("1.2a").is_err());
    }

    #[test]
    fn accession_number_fits_dicom_sh() {
        assert!(AccessionNumber::parse("ACC0000012345678").is_ok());
        assert!(AccessionNumber::parse("ACC00000123456789").is_err());
        assert!(AccessionNumber::parse("  ").is_err());
    }

    #[test]
    fn serde_goes_through_parse() {
        let ok: TaskTypeId = serde_json::from_str("\"liver_segmentation\"").unwrap();
        assert_eq!(ok.as_str(), "liver_segmentation");
        let err = serde_json::from_str::<TaskTypeId>("\"Liver\"").unwrap_err();
        assert!(err.to_string().contains("invalid task type"), "{err}");
    }
}
