//! The `radgate` binary: parses arguments and hands each command to the libraries.

mod ai_cmd;
mod audit_cmd;
mod bundled;
mod demo_cmd;
mod demo_history;
mod labeller_cmd;
mod load;
mod monitor_cmd;
mod pilot_cmd;
mod policy_cmd;
mod portfolio_cmd;
mod programme_cmd;
mod serve_cmd;
mod simulate_cmd;
mod stats_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "radgate",
    version,
    about = "Routing, delegation and AI oversight for the radiology department"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per run: the size of the `serve` variant costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run the demo department live: the service on SQLite, one login per role, and a
    /// feed of simulated studies and AI results so the worklists move
    Demo {
        /// Address to listen on (port 0 picks a free one)
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// SQLite file to keep the demo in (default: a new temporary file)
        #[arg(long)]
        db: Option<PathBuf>,
        /// New studies per minute
        #[arg(long, default_value_t = 12.0, allow_negative_numbers = true, value_parser = positive::<f64>)]
        rate: f64,
        /// How many times faster than declared the simulated AI applications answer
        #[arg(long, default_value_t = 20.0, allow_negative_numbers = true, value_parser = positive::<f64>)]
        ai_speed: f64,
        /// Studies ingested at start, so worklists are not empty
        #[arg(long, default_value_t = 30, allow_negative_numbers = true, value_parser = whole::<u32>)]
        backlog: u32,
        /// Random seed of the simulated studies
        #[arg(long, default_value_t = 1, allow_negative_numbers = true, value_parser = whole::<u64>)]
        seed: u64,
        /// Days of past work seeded before the demo starts (0: none), so every screen has
        /// content: reports, AI metrics and charts, reviews, a drift alarm, a pilot
        #[arg(long, default_value_t = 90, allow_negative_numbers = true, value_parser = whole::<u32>)]
        history_days: u32,
        /// Studies a day in the seeded past
        #[arg(long, default_value_t = 80, allow_negative_numbers = true, value_parser = positive::<u32>)]
        history_per_day: u32,
    },
    /// Check and explain routing policies
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Simulate a department's arrivals, AI applications, routing and roster
    Simulate {
        /// Department file with a [simulation] table
        #[arg(long)]
        department: PathBuf,
        /// Routing policy
        #[arg(long)]
        policy: PathBuf,
        /// Days to simulate
        #[arg(long, allow_negative_numbers = true, value_parser = whole::<u32>)]
        days: u32,
        /// Random seed; the same seed gives the same output
        #[arg(long, allow_negative_numbers = true, value_parser = whole::<u64>)]
        seed: u64,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Run the radgate service: HTTP API on a database
    Serve {
        #[command(flatten)]
        database: Database,
        /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free one)
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Routing policy; refused when `radgate policy check` finds a problem
        #[arg(long)]
        policy: PathBuf,
        /// Department file (task catalog, agreements, AI register)
        #[arg(long)]
        department: PathBuf,
        /// Mark the session cookie Secure (when radgate is served over TLS)
        #[arg(long)]
        secure_cookies: bool,
        /// Minutes a login session may go unused before it ends
        #[arg(long, default_value_t = 30, allow_negative_numbers = true, value_parser = positive::<u64>)]
        session_idle_minutes: u64,
        /// The image viewer the study screen links to; `{study_uid}` and `{accession}`
        /// are filled in (e.g. https://pacs.example/ohif/viewer?StudyInstanceUIDs={study_uid})
        #[arg(long)]
        viewer_url: Option<String>,
        /// Seconds between checks for studies whose AI wait has run out
        #[arg(long, default_value_t = 15, allow_negative_numbers = true, value_parser = positive::<u64>)]
        reroute_every: u64,
        /// The report labeller's vocabulary (default: the built-in examples/labeller.toml)
        #[arg(long)]
        labeller_vocabulary: Option<PathBuf>,
        /// Ask the hospital's own report labeller at this http:// URL instead
        #[arg(long, conflicts_with = "labeller_vocabulary")]
        labeller_url: Option<String>,
        /// Take HL7 v2 orders (ORM^O01, OMI^O23) over MLLP on this address, e.g.
        /// 0.0.0.0:2575
        #[arg(long)]
        mllp_listen: Option<std::net::SocketAddr>,
        /// Seconds an MLLP connection may stay silent before it is closed
        #[arg(long, default_value_t = 30, allow_negative_numbers = true, value_parser = positive::<u64>)]
        mllp_idle_seconds: u64,
        /// Accept MLLP connections only from this address (repeat for several; default: any)
        #[arg(long)]
        mllp_allow: Vec<std::net::IpAddr>,
        /// Send authorized reports as ORU^R01 to the RIS's MLLP listener at HOST:PORT,
        /// through a durable outbox with retries
        #[arg(long)]
        ris_mllp: Option<String>,
        /// MSH-5 (receiving application) of the results
        #[arg(long, default_value = "RIS")]
        ris_application: String,
        /// MSH-6 (receiving facility) of the results
        #[arg(long, default_value = "")]
        ris_facility: String,
        /// Also send preliminary reports (OBR-25 P)
        #[arg(long)]
        ris_preliminary: bool,
        /// Receive DICOM (C-ECHO, C-STORE) on this address, e.g. 0.0.0.0:11112
        #[arg(long)]
        dicom_listen: Option<std::net::SocketAddr>,
        /// The receiver's AE title
        #[arg(long, default_value = "RADGATE")]
        dicom_ae: String,
        /// Where received instances are stored (Study/Series/SOP.dcm)
        #[arg(long, default_value = "radgate-dicom")]
        dicom_storage: PathBuf,
        /// A study is complete once no instance arrived for this many seconds
        #[arg(long, default_value_t = 60, allow_negative_numbers = true, value_parser = positive::<u64>)]
        dicom_quiet_seconds: u64,
        /// A study whose order states its expected series is complete once they are all
        /// in and no instance arrived for this many seconds
        #[arg(long, default_value_t = 5, allow_negative_numbers = true, value_parser = positive::<u64>)]
        dicom_settle_seconds: u64,
        /// Forward completed studies to this DICOM node (an AI node, the PACS), written
        /// AE@HOST:PORT; repeat for several
        #[arg(long, value_parser = parse_node)]
        forward_to: Vec<radgate_server::DicomNode>,
        /// Send radgate's DICOM SR of every AI result clinicians may see (a TID 1500
        /// measurement report, IHE AI Results) to this node (the PACS), written
        /// AE@HOST:PORT; repeat for several
        #[arg(long, value_parser = parse_node)]
        sr_to: Vec<radgate_server::DicomNode>,
        /// Make every routed study owed to an AI application of the register a DICOM UPS
        /// work item (IHE AIW-I) that its AI node pulls, claims and completes over
        /// UPS-RS at /dicom-web/workitems
        #[arg(long)]
        ai_workitems: bool,
        /// Associations served at once; more are refused (A-ASSOCIATE-RJ, transient)
        #[arg(long, default_value_t = radgate_server::DICOM_MAX_ASSOCIATIONS, allow_negative_numbers = true, value_parser = positive::<usize>)]
        dicom_max_associations: usize,
        /// Accept associations only from this calling AE title (repeat for several;
        /// default: any)
        #[arg(long)]
        dicom_allow_ae: Vec<String>,
        /// The largest data set taken, in MiB; a larger one aborts its association
        #[arg(long, default_value_t = radgate_server::DICOM_MAX_INSTANCE_BYTES >> 20, allow_negative_numbers = true, value_parser = positive::<u64>)]
        dicom_max_instance_mib: u64,
    },
    /// Manage login accounts
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// Manage API keys for systems (RIS, PACS, AI platforms)
    ApiKey {
        #[command(subcommand)]
        command: ApiKeyCommand,
    },
    /// The competence portfolio: assessments (KKB) and certificates
    Portfolio {
        #[command(subcommand)]
        command: PortfolioCommand,
    },
    /// Derived authorizations
    Authz {
        #[command(subcommand)]
        command: AuthzCommand,
    },
    /// The AI register
    Ai {
        #[command(subcommand)]
        command: AiCommand,
    },
    /// Check the tamper-evident audit trail
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// The report labeller: free-text reports to present / absent / uncertain per finding
    Labeller {
        #[command(subcommand)]
        command: LabellerCommand,
    },
    /// Statistics used in monitoring
    Stats {
        #[command(subcommand)]
        command: StatsCommand,
    },
    /// An AI application's performance against final reports: TP/FP/FN/TN, sensitivity,
    /// specificity, PPV, NPV with Wald, Wilson and exact intervals, McNemar against the
    /// initial human report; per version and finding, optionally by a stratum
    Monitor {
        #[command(flatten)]
        database: Database,
        #[arg(long)]
        app: String,
        /// First day of acquisition counted (UTC), YYYY-MM-DD
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        /// Last day of acquisition counted (UTC), YYYY-MM-DD
        #[arg(long)]
        to: Option<chrono::NaiveDate>,
        /// site, scanner, protocol or month
        #[arg(long)]
        by: Option<String>,
        /// Also the ROC AUC with its DeLong interval (reads every score in the window)
        #[arg(long)]
        auc: bool,
        /// Only calls whose truth came from this source: feedback, adjudication, coded,
        /// labeller
        #[arg(long)]
        source: Option<String>,
        /// Turnaround instead: acquisition to AI result (median, p90, share within
        /// --ai-sla-minutes) and to the authorized report, per priority
        #[arg(long)]
        turnaround: bool,
        #[arg(long, default_value_t = 10.0, allow_negative_numbers = true, value_parser = positive::<f64>)]
        ai_sla_minutes: f64,
        #[arg(long, value_enum, default_value_t = monitor_cmd::MonitorFormat::Text)]
        format: monitor_cmd::MonitorFormat,
    },
    /// AI pilots: declare the expected effects before the start, report declared against
    /// measured, record the decision to scale up or stop
    Pilot {
        #[command(subcommand)]
        command: PilotCommand,
    },
    /// Training programmes: progress, cohort, the committee's review sample
    Programme {
        #[command(subcommand)]
        command: ProgrammeCommand,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Check a policy: syntax, unknown keys, thresholds, shadowed rules, and (with a
    /// department) task agreements and AI applications. Exits 1 on any problem.
    Check {
        /// The policy file
        file: PathBuf,
        /// Department to check references against; defaults to the policy's `department`
        #[arg(long)]
        department: Option<PathBuf>,
    },
    /// Route one study with its AI results and explain the decision
    Explain {
        #[arg(long)]
        policy: PathBuf,
        /// JSON file: {"study": {...}, "ai_results": [...], "evaluated_at": "..."}
        #[arg(long)]
        study: PathBuf,
        /// Department to check the policy against; defaults to the policy's `department`
        #[arg(long)]
        department: Option<PathBuf>,
        /// Evaluation time (RFC 3339, or `now`); overrides the file's `evaluated_at`
        #[arg(long)]
        at: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Route every stored study of a period again through a new policy, with the AI
    /// results it had at the time, and compare with what was decided. Read-only
    Replay {
        #[command(flatten)]
        database: Database,
        /// The new policy
        #[arg(long)]
        policy: PathBuf,
        /// The department (register, catalog; its [simulation] table gives the minutes)
        #[arg(long)]
        department: PathBuf,
        /// First day of acquisition (UTC), YYYY-MM-DD
        #[arg(long)]
        from: chrono::NaiveDate,
        /// Last day of acquisition (UTC), YYYY-MM-DD
        #[arg(long)]
        to: chrono::NaiveDate,
        /// Treat this application's results as live whatever its status (e.g. one in
        /// shadow mode); repeat for several
        #[arg(long)]
        as_live: Vec<String>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Create an account for a professional of the department (or reset its password);
    /// the password is read from standard input
    Add {
        #[command(flatten)]
        database: Database,
        /// Department file: the professional must be in it, and their role comes from it
        #[arg(long)]
        department: PathBuf,
        #[arg(long)]
        username: String,
        /// The professional's id in the department file
        #[arg(long)]
        professional: String,
    },
    /// Disable an account: its sessions end at once and it cannot log in until
    /// `account add` sets a new password
    Disable {
        #[command(flatten)]
        database: Database,
        #[arg(long)]
        username: String,
    },
}

#[derive(Subcommand)]
enum ApiKeyCommand {
    /// Create (or replace) a named key and print it once
    Create {
        #[command(flatten)]
        database: Database,
        /// The department whose AI register `ai:APP` scopes name
        #[arg(long)]
        department: PathBuf,
        #[arg(long)]
        name: String,
        /// Comma-separated: `ingest` (orders and studies), `ai:APP` (results of one
        /// application of the AI register), `read` (clinical records)
        #[arg(long, value_delimiter = ',', required = true)]
        scopes: Vec<String>,
    },
}

#[derive(Subcommand)]
enum PortfolioCommand {
    /// Import assessments from CSV, all or nothing (columns in the README)
    Import {
        #[command(flatten)]
        database: Database,
        #[arg(long)]
        department: PathBuf,
        file: PathBuf,
    },
    /// Record a certificate (e.g. ai_literacy, ai_endorsement, mri_safety)
    Certificate {
        #[command(flatten)]
        database: Database,
        #[arg(long)]
        department: PathBuf,
        #[arg(long)]
        person: String,
        #[arg(long)]
        kind: String,
        /// Last day of validity, YYYY-MM-DD
        #[arg(long)]
        valid_until: chrono::NaiveDate,
    },
}

#[derive(Subcommand)]
enum ProgrammeCommand {
    /// A trainee's progress per domain and placement, with the gaps named
    Progress {
        #[command(flatten)]
        database: Database,
        #[arg(long)]
        department: PathBuf,
        #[arg(long)]
        person: String,
        /// The day to measure on (default today), YYYY-MM-DD
        #[arg(long)]
        on: Option<chrono::NaiveDate>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Every trainee of a programme, those behind first
    Cohort {
        #[command(flatten)]
        database: Database,
        #[arg(long)]
        department: PathBuf,
        #[arg(long)]
        programme: String,
        #[arg(long)]
        on: Option<chrono::NaiveDate>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// The exam committee's reproducible sample of confirmed assessments to re-assess
    Sample {
        #[command(flatten)]
        database: Database,
        #[arg(long)]
        department: PathBuf,
        #[arg(long)]
        programme: String,
        /// Share to draw (default: the programme's review_fraction)
        #[arg(long)]
        fraction: Option<f64>,
        /// The same seed over the same assessments draws the same sample
        #[arg(long, default_value_t = 1, allow_negative_numbers = true, value_parser = whole::<u64>)]
        seed: u64,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Match a placement round: the trainees' rankings, stable (trainee-proposing
    /// deferred acceptance) under the programme's variety rule and seed; stores the result
    Match {
        #[command(flatten)]
        database: Database,
        #[arg(long)]
        department: PathBuf,
        #[arg(long)]
        programme: String,
        /// The round, e.g. 2026-2; rounds order by this id
        #[arg(long)]
        round: String,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

#[derive(Subcommand)]
enum LabellerCommand {
    /// Label again the final reports of studies acquired in a period (after a vocabulary
    /// change) and decide their truth for AI monitoring again
    Relabel {
        #[command(flatten)]
        database: Database,
        /// First day of acquisition (UTC), YYYY-MM-DD
        #[arg(long)]
        from: chrono::NaiveDate,
        /// Last day of acquisition (UTC), YYYY-MM-DD
        #[arg(long)]
        to: chrono::NaiveDate,
        /// The vocabulary (default: the built-in examples/labeller.toml)
        #[arg(long)]
        vocabulary: Option<PathBuf>,
        /// Ask the hospital's own report labeller at this http:// URL instead
        #[arg(long, conflicts_with = "vocabulary", requires = "department")]
        labeller_url: Option<String>,
        /// The department whose register's findings an external labeller is asked for
        #[arg(long)]
        department: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Compare the labeller with people's labels of a set of reports (JSON Lines)
    Evaluate {
        /// One report a line: {"id", "language": "nl"|"en", "text", "labels": {FINDING: "present"|"absent"|"uncertain"}}
        #[arg(long)]
        reports: PathBuf,
        /// The vocabulary (default: the built-in examples/labeller.toml)
        #[arg(long)]
        vocabulary: Option<PathBuf>,
        /// Score the findings of this department's AI register
        #[arg(long)]
        department: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

#[derive(Subcommand)]
enum AuthzCommand {
    /// May this person do this task: status, evidence, what is missing, lapse date
    Explain {
        #[command(flatten)]
        database: Database,
        #[arg(long)]
        department: PathBuf,
        #[arg(long)]
        person: String,
        #[arg(long)]
        task: String,
        /// The day to decide for (default today), YYYY-MM-DD
        #[arg(long)]
        on: Option<chrono::NaiveDate>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

#[derive(Subcommand)]
enum AiCommand {
    /// Warnings per application: certificates expiring within 180 days or expired,
    /// MDD-only certification, missing model-card fields, production without validation.
    /// Exits 1 when an application in use has an expired certificate or is in production
    /// without CE marking
    Check {
        #[arg(long)]
        department: PathBuf,
        /// The day to check for (default today), YYYY-MM-DD
        #[arg(long)]
        on: Option<chrono::NaiveDate>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Report errors as warnings and exit 0
        #[arg(long)]
        warn_only: bool,
    },
    /// The register as it stands in the database: each entry's status in force (the
    /// latest change, else the department file's) and its warnings
    List {
        #[command(flatten)]
        database: Database,
        #[arg(long)]
        department: PathBuf,
        /// The day to check warnings for (default today), YYYY-MM-DD
        #[arg(long)]
        on: Option<chrono::NaiveDate>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Change an application's status (shadow, pilot, production, suspended, retired) as the
    /// department's RAIO, with a reason; audited, and routing follows at once
    Status {
        #[command(flatten)]
        database: Database,
        #[arg(long)]
        department: PathBuf,
        #[arg(long)]
        app: String,
        #[arg(long)]
        status: String,
        #[arg(long)]
        reason: String,
        /// The RAIO's professional id
        #[arg(long)]
        by: String,
    },
}

fn parse_node(s: &str) -> Result<radgate_server::DicomNode, String> {
    radgate_server::DicomNode::parse(s)
}

#[derive(Subcommand)]
enum PilotCommand {
    /// Declare a pilot from a JSON file: {"id", "app", "start", "end", "baseline_start"?,
    /// "baseline_end"?, "expected": [{"kind": "sensitivity_at_least", "finding", "value"},
    /// {"kind": "radiologist_workload_down_pct", "value"}, ...]}; it must start today or later
    Declare {
        #[command(flatten)]
        database: Database,
        #[arg(long)]
        department: PathBuf,
        /// The RAIO's professional id
        #[arg(long)]
        by: String,
        file: PathBuf,
    },
    /// Declared against measured, with a verdict per expected effect, and the decision
    Report {
        #[command(flatten)]
        database: Database,
        #[arg(long)]
        department: PathBuf,
        id: String,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Record the decision (scale_up or stop) with its reason; the register status follows
    Decide {
        #[command(flatten)]
        database: Database,
        #[arg(long)]
        department: PathBuf,
        id: String,
        #[arg(long)]
        outcome: String,
        #[arg(long)]
        reason: String,
        /// The RAIO's professional id
        #[arg(long)]
        by: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the hash chain; exit 1 naming the first event that was altered, deleted or
    /// inserted
    Verify {
        #[command(flatten)]
        database: Database,
    },
}

/// Which database: the embedded SQLite file or a PostgreSQL server.
#[derive(clap::Args)]
#[group(required = true, multiple = false)]
struct Database {
    /// SQLite database file (the embedded default)
    #[arg(long)]
    db: Option<PathBuf>,
    /// PostgreSQL URL, e.g. postgres://radgate@db.example/radgate
    #[arg(long)]
    database_url: Option<String>,
}

#[derive(Subcommand)]
enum StatsCommand {
    /// A binomial proportion with its confidence interval, printed as JSON fractions
    Proportion {
        #[arg(long, allow_negative_numbers = true, value_parser = whole::<u64>)]
        successes: u64,
        #[arg(long, allow_negative_numbers = true, value_parser = positive::<u64>)]
        trials: u64,
        #[arg(long, value_enum, default_value_t = IntervalMethod::Wilson)]
        method: IntervalMethod,
        /// Two-sided confidence level
        #[arg(long, default_value_t = 0.95)]
        confidence: f64,
    },
    /// Agreement and bias between two assessors who scored the same items, per criterion
    /// and overall. CSV columns: item,rater_a_score,rater_b_score[,criterion]
    Agreement {
        #[arg(long)]
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum IntervalMethod {
    Wald,
    Wilson,
    /// Clopper-Pearson
    Exact,
}

/// A number above zero, with a message that says so when it is not (clap's own would
/// speak of an invalid digit, or take `-5` for a flag).
fn positive<T>(s: &str) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + Default,
{
    match s.trim().parse::<T>() {
        Ok(v) if v > T::default() => Ok(v),
        _ => Err(format!("the value must be positive, got `{s}`")),
    }
}

/// A whole number, zero or more.
fn whole<T>(s: &str) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + Default,
{
    match s.trim().parse::<T>() {
        Ok(v) if v >= T::default() => Ok(v),
        _ => Err(format!(
            "the value must be a whole number, zero or more, got `{s}`"
        )),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo {
            listen,
            db,
            rate,
            ai_speed,
            backlog,
            seed,
            history_days,
            history_per_day,
        } => demo_cmd::run(demo_cmd::Options {
            listen,
            db,
            rate,
            speed: ai_speed,
            backlog,
            seed,
            history_days,
            history_per_day,
        }),
        Command::Policy {
            command: PolicyCommand::Check { file, department },
        } => policy_cmd::check(&file, department.as_deref()),
        Command::Policy {
            command:
                PolicyCommand::Explain {
                    policy,
                    study,
                    department,
                    at,
                    format,
                },
        } => policy_cmd::explain(
            &policy,
            &study,
            department.as_deref(),
            at.as_deref(),
            format,
        ),
        Command::Policy {
            command:
                PolicyCommand::Replay {
                    database,
                    policy,
                    department,
                    from,
                    to,
                    as_live,
                    format,
                },
        } => policy_cmd::replay(
            serve_cmd::Target::from(&database),
            &policy,
            &department,
            (from, to),
            &as_live,
            format,
        ),
        Command::Simulate {
            department,
            policy,
            days,
            seed,
            format,
        } => simulate_cmd::simulate(&department, &policy, days, seed, format),
        Command::Serve {
            database,
            listen,
            policy,
            department,
            secure_cookies,
            session_idle_minutes,
            viewer_url,
            reroute_every,
            labeller_vocabulary,
            labeller_url,
            mllp_listen,
            mllp_idle_seconds,
            mllp_allow,
            ris_mllp,
            ris_application,
            ris_facility,
            ris_preliminary,
            dicom_listen,
            dicom_ae,
            dicom_storage,
            dicom_quiet_seconds,
            dicom_settle_seconds,
            forward_to,
            sr_to,
            ai_workitems,
            dicom_max_associations,
            dicom_allow_ae,
            dicom_max_instance_mib,
        } => serve_cmd::serve(
            serve_cmd::Target::from(&database),
            serve_cmd::Listen {
                http: listen,
                mllp: mllp_listen,
                mllp_idle: std::time::Duration::from_secs(mllp_idle_seconds.max(1)),
                mllp_allow,
                ris: ris_mllp.map(|addr| radgate_server::RisTarget {
                    addr,
                    application: ris_application,
                    facility: ris_facility,
                    send_preliminary: ris_preliminary,
                }),
                dicom: dicom_listen.map(|addr| serve_cmd::DicomListen {
                    addr,
                    ae_title: dicom_ae,
                    storage: dicom_storage,
                    completion: radgate_domain::acquisition::Completion {
                        quiet: chrono::Duration::seconds(dicom_quiet_seconds.max(1) as i64),
                        settle: chrono::Duration::seconds(dicom_settle_seconds.max(1) as i64),
                    },
                    forward: forward_to,
                    max_associations: dicom_max_associations,
                    allowed_callers: dicom_allow_ae,
                    max_instance_bytes: dicom_max_instance_mib.saturating_mul(1 << 20),
                }),
                sr_to,
                ai_workitems,
            },
            &policy,
            &department,
            serve_cmd::Sessions {
                viewer_url,
                secure_cookies,
                idle: std::time::Duration::from_secs(session_idle_minutes * 60),
            },
            std::time::Duration::from_secs(reroute_every.max(1)),
            labeller_cmd::Choice {
                vocabulary: labeller_vocabulary.as_deref(),
                url: labeller_url.as_deref(),
            },
        ),
        Command::Account {
            command:
                AccountCommand::Add {
                    database,
                    department,
                    username,
                    professional,
                },
        } => serve_cmd::add_account(
            serve_cmd::Target::from(&database),
            &department,
            &username,
            &professional,
        ),
        Command::Account {
            command: AccountCommand::Disable { database, username },
        } => serve_cmd::disable_account(serve_cmd::Target::from(&database), &username),
        Command::ApiKey {
            command:
                ApiKeyCommand::Create {
                    database,
                    department,
                    name,
                    scopes,
                },
        } => serve_cmd::create_api_key(
            serve_cmd::Target::from(&database),
            &department,
            &name,
            &scopes,
        ),
        Command::Portfolio {
            command:
                PortfolioCommand::Import {
                    database,
                    department,
                    file,
                },
        } => portfolio_cmd::import(serve_cmd::Target::from(&database), &department, &file),
        Command::Portfolio {
            command:
                PortfolioCommand::Certificate {
                    database,
                    department,
                    person,
                    kind,
                    valid_until,
                },
        } => portfolio_cmd::certificate(
            serve_cmd::Target::from(&database),
            &department,
            &person,
            &kind,
            valid_until,
        ),
        Command::Authz {
            command:
                AuthzCommand::Explain {
                    database,
                    department,
                    person,
                    task,
                    on,
                    format,
                },
        } => portfolio_cmd::explain(
            serve_cmd::Target::from(&database),
            &department,
            &person,
            &task,
            on,
            format,
        ),
        Command::Ai {
            command:
                AiCommand::Check {
                    department,
                    on,
                    format,
                    warn_only,
                },
        } => ai_cmd::check(&department, on, format, warn_only),
        Command::Ai {
            command:
                AiCommand::List {
                    database,
                    department,
                    on,
                    format,
                },
        } => ai_cmd::list(serve_cmd::Target::from(&database), &department, on, format),
        Command::Ai {
            command:
                AiCommand::Status {
                    database,
                    department,
                    app,
                    status,
                    reason,
                    by,
                },
        } => ai_cmd::status(
            serve_cmd::Target::from(&database),
            &department,
            &app,
            &status,
            &reason,
            &by,
        ),
        Command::Audit {
            command: AuditCommand::Verify { database },
        } => audit_cmd::verify(database.db.as_deref(), database.database_url.as_deref()),
        Command::Stats {
            command:
                StatsCommand::Proportion {
                    successes,
                    trials,
                    method,
                    confidence,
                },
        } => stats_cmd::proportion(successes, trials, method, confidence),
        Command::Stats {
            command: StatsCommand::Agreement { file, format },
        } => stats_cmd::agreement(&file, format),
        Command::Pilot {
            command:
                PilotCommand::Declare {
                    database,
                    department,
                    by,
                    file,
                },
        } => pilot_cmd::declare(serve_cmd::Target::from(&database), &department, &file, &by),
        Command::Pilot {
            command:
                PilotCommand::Report {
                    database,
                    department,
                    id,
                    format,
                },
        } => pilot_cmd::report(serve_cmd::Target::from(&database), &department, &id, format),
        Command::Pilot {
            command:
                PilotCommand::Decide {
                    database,
                    department,
                    id,
                    outcome,
                    reason,
                    by,
                },
        } => pilot_cmd::decide(
            serve_cmd::Target::from(&database),
            &department,
            &id,
            &outcome,
            &reason,
            &by,
        ),
        Command::Monitor {
            database,
            app,
            from,
            to,
            by,
            auc,
            source,
            turnaround: true,
            ai_sla_minutes,
            format,
        } => {
            if by.is_some() || auc || source.is_some() {
                Err(anyhow::anyhow!(
                    "--turnaround reports per priority; it takes no --by, --auc or --source"
                ))
            } else {
                monitor_cmd::turnaround(
                    serve_cmd::Target::from(&database),
                    &app,
                    from,
                    to,
                    ai_sla_minutes,
                    format,
                )
            }
        }
        Command::Monitor {
            database,
            app,
            from,
            to,
            by,
            auc,
            source,
            turnaround: false,
            format,
            ..
        } => monitor_cmd::run(
            serve_cmd::Target::from(&database),
            &app,
            from,
            to,
            monitor_cmd::Filter {
                by: by.as_deref(),
                source: source.as_deref(),
            },
            auc,
            format,
        ),
        Command::Programme {
            command:
                ProgrammeCommand::Progress {
                    database,
                    department,
                    person,
                    on,
                    format,
                },
        } => programme_cmd::progress(
            serve_cmd::Target::from(&database),
            &department,
            &person,
            on,
            format,
        ),
        Command::Programme {
            command:
                ProgrammeCommand::Cohort {
                    database,
                    department,
                    programme,
                    on,
                    format,
                },
        } => programme_cmd::cohort(
            serve_cmd::Target::from(&database),
            &department,
            &programme,
            on,
            format,
        ),
        Command::Programme {
            command:
                ProgrammeCommand::Sample {
                    database,
                    department,
                    programme,
                    fraction,
                    seed,
                    format,
                },
        } => programme_cmd::sample(
            serve_cmd::Target::from(&database),
            &department,
            &programme,
            fraction,
            seed,
            format,
        ),
        Command::Labeller {
            command:
                LabellerCommand::Relabel {
                    database,
                    from,
                    to,
                    vocabulary,
                    labeller_url,
                    department,
                    format,
                },
        } => labeller_cmd::relabel(
            serve_cmd::Target::from(&database),
            from,
            to,
            labeller_cmd::Choice {
                vocabulary: vocabulary.as_deref(),
                url: labeller_url.as_deref(),
            },
            department.as_deref(),
            format,
        ),
        Command::Labeller {
            command:
                LabellerCommand::Evaluate {
                    reports,
                    vocabulary,
                    department,
                    format,
                },
        } => labeller_cmd::run(
            &reports,
            vocabulary.as_deref(),
            department.as_deref(),
            format,
        ),
        Command::Programme {
            command:
                ProgrammeCommand::Match {
                    database,
                    department,
                    programme,
                    round,
                    format,
                },
        } => programme_cmd::match_round(
            serve_cmd::Target::from(&database),
            &department,
            &programme,
            &round,
            format,
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Problems that were already printed line by line only set the exit code.
            if !e.is::<load::Reported>() {
                eprintln!("error: {e:#}");
            }
            ExitCode::FAILURE
        }
    }
}
