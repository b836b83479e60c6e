//! The DICOM receiver of the real `radgate serve`, with real peers: dcmtk's `echoscu`,
//! `storescu` and `dcmdump`, and pynetdicom/pydicom (synthetic images they generate).
//! `.ci/run` installs dcmtk; `scripts/test` installs pynetdicom and pydicom.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::http::{call, login, provision_people};
use support::{Server, databases};

fn py(program: &str, arg: &Value) -> Value {
    support::python_json(program, arg)
}

/// Writes synthetic CT instances (Part 10, Explicit VR Little Endian) with pydicom:
/// `{"dir", "study", "accession", "series": [[series uid, instances]], "missing": [tag names to leave out],
/// "rows": image size (default 64)}`.
const GENERATE: &str = r#"
import json, os, sys
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, CTImageStorage

a = json.load(sys.stdin)
os.makedirs(a["dir"], exist_ok=True)
out = []
for series, count in a["series"]:
    for n in range(1, count + 1):
        ds = Dataset()
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = f"{series}.{n}"
        ds.StudyInstanceUID = a["study"]
        ds.SeriesInstanceUID = series
        ds.AccessionNumber = a["accession"]
        ds.PatientID = "PSEUDO-77"
        ds.PatientName = "Synthetic^Patient"
        ds.PatientSex = "F"
        ds.Modality = "CT"
        ds.BodyPartExamined = "CHEST"
        ds.StudyDescription = "CT pulmonary angiography"
        ds.Manufacturer = "SimulatedVendor"
        ds.ManufacturerModelName = "CT-1"
        ds.ProtocolName = "CTPA"
        ds.StudyDate, ds.StudyTime = "20261201", "101500"
        rows = a.get("rows", 64)
        ds.Rows = ds.Columns = rows
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
        ds.PixelRepresentation, ds.SamplesPerPixel = 0, 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.PixelData = (np.arange(rows * rows, dtype=np.uint16) * n % 4096).tobytes()
        for name in a.get("missing", []):
            delattr(ds, name)
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        path = os.path.join(a["dir"], f"{series}.{n}.dcm")
        ds.save_as(path, enforce_file_format=True)
        out.append(path)
print(json.dumps(out))
"#;

/// Sends files with pynetdicom over one association, in Implicit VR Little Endian:
/// `{"addr", "files"}` -> the C-STORE statuses, in order.
const PYNETDICOM_STORE: &str = r#"
import json, sys
from pydicom import dcmread
from pynetdicom import AE
from pydicom.uid import ImplicitVRLittleEndian, CTImageStorage

a = json.load(sys.stdin)
host, port = a["addr"].rsplit(":", 1)
ae = AE(ae_title="PYNETDICOM")
ae.add_requested_context(CTImageStorage, ImplicitVRLittleEndian)
assoc = ae.associate(host, int(port), ae_title="RADGATE")
assert assoc.is_established, "association refused"
statuses = []
for f in a["files"]:
    ds = dcmread(f)
    st = assoc.send_c_store(ds)
    statuses.append(int(st.Status) if st else None)
assoc.release()
print(json.dumps({"statuses": statuses, "alive": True}))
"#;

const COMPARE: &str = r#"
import json, sys
from pydicom import dcmread
a = json.load(sys.stdin)
x, y = dcmread(a["sent"]), dcmread(a["stored"])
print(json.dumps({"same_pixels": x.PixelData == y.PixelData, "sop": str(y.SOPInstanceUID),
    "ts": str(y.file_meta.TransferSyntaxUID), "name_kept": str(y.PatientName)}))
"#;

/// Writes an AI node's TID 1500 measurement report with highdicom
/// (Comprehensive SR, which storescu proposes by default) over the given images:
/// `{"images", "dir", "algorithm", "version", "score", "unit"}`
/// (a null score leaves the finding without one) -> `{"path", "sop"}`.
const WRITE_SR: &str = r#"
import json, os, sys
import highdicom as hd
from pydicom import dcmread
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

a = json.load(sys.stdin)
evidence = [dcmread(p) for p in a["images"]]
# The synthetic images leave out type 2 attributes that an SR copies from its evidence.
for ds in evidence:
    for name, value in (("PatientBirthDate", ""), ("StudyID", ""),
                        ("ReferringPhysicianName", ""), ("StudyTime", "")):
        if name not in ds:
            setattr(ds, name, value)
algo = hd.sr.AlgorithmIdentification(name=a["algorithm"], version=a["version"])
observer = hd.sr.ObserverContext(
    observer_type=codes.DCM.Device,
    observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
        uid=hd.UID(), name="AI node"),
)
context = hd.sr.ObservationContext(observer_device_context=observer)
measurements = []
if a.get("score") is not None:
    measurements.append(hd.sr.Measurement(
        name=Code("122157", "DCM", "Probability"), value=a["score"],
        unit=Code(a["unit"], "UCUM", a["unit"]), algorithm_id=algo))
group = hd.sr.MeasurementsAndQualitativeEvaluations(
    tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier="PE 1"),
    finding_type=Code("59282003", "SCT", "Pulmonary embolism"),
    algorithm_id=algo,
    measurements=measurements or None,
    qualitative_evaluations=None if measurements else [hd.sr.QualitativeEvaluation(
        name=Code("246262008", "SCT", "Score"), value=Code("260373001", "SCT", "Detected"))],
)
report = hd.sr.MeasurementReport(
    observation_context=context,
    procedure_reported=Code("RPID16", "RADLEX", "CT chest"),
    imaging_measurements=[group],
)
sr = hd.sr.ComprehensiveSR(
    evidence=evidence, content=report, series_instance_uid=hd.UID(), series_number=99,
    sop_instance_uid=a.get("sop") or hd.UID(), instance_number=1, manufacturer="Simulated AI Vendor",
    is_complete=True, is_final=True,
)
os.makedirs(a["dir"], exist_ok=True)
path = os.path.join(a["dir"], "sr.dcm")
sr.save_as(path)
print(json.dumps({"path": path, "sop": str(sr.SOPInstanceUID)}))
"#;

/// Reads radgate's SR back with highdicom: `{"path"}` -> the measurement groups (finding,
/// score, unit, call, algorithm), the qualitative evaluations (text) and the observer.
const READ_SR: &str = r#"
import json, sys
import highdicom as hd
a = json.load(sys.stdin)
sr = hd.sr.srread(a["path"])
report = sr.content
def text_items(group, value):
    # A highdicom template is a list whose first item is the group's container.
    out = []
    for item in group[0].ContentSequence:
        if item.ValueType == "TEXT" and item.ConceptNameCodeSequence[0].CodeValue == value:
            out.append(str(item.TextValue))
    return out
groups = []
for g in report.get_image_measurement_groups():
    m = g.get_measurements()
    q = g.get_qualitative_evaluations()
    groups.append({
        "finding": [g.finding_type.scheme_designator, g.finding_type.value],
        "tracking": str(g.tracking_identifier),
        "algorithm": text_items(g, "111001") + text_items(g, "111003"),
        "score": m[0].value if m else None,
        "score_concept": [m[0].name.scheme_designator, m[0].name.value] if m else None,
        "unit": m[0].unit.value if m else None,
        "call": q[0].value.meaning if q else None,
    })
notes, images = {}, []
for item in sr.ContentSequence:
    if item.ValueType == "CONTAINER" and item.ConceptNameCodeSequence[0].CodeValue == "C0034375":
        for n in item.ContentSequence:
            notes[n.ConceptNameCodeSequence[0].CodeMeaning] = str(n.TextValue)
    if item.ValueType == "CONTAINER" and item.ConceptNameCodeSequence[0].CodeValue == "111028":
        for group in item.get("ContentSequence", []):
            for entry in group.ContentSequence:
                images.append(str(entry.ReferencedSOPSequence[0].ReferencedSOPInstanceUID))
evidence = [str(i.ReferencedSOPInstanceUID)
    for st in sr.get("CurrentRequestedProcedureEvidenceSequence", [])
    for se in st.ReferencedSeriesSequence for i in se.ReferencedSOPSequence]
print(json.dumps({"groups": groups, "notes": notes, "sop": str(sr.SOPInstanceUID),
    "images": images, "evidence": evidence,
    "study": str(sr.StudyInstanceUID), "accession": str(sr.AccessionNumber),
    "modality": str(sr.Modality), "template": str(sr.ContentTemplateSequence[0].TemplateIdentifier)}))
"#;

/// The AI node's DICOMweb side with dicomweb-client: `{"base", "key", "other_key",
/// "accession", "dir"}` -> what QIDO-RS found, what WADO-RS brought, what STOW-RS of a
/// highdicom report answered, and what another vendor's key could reach.
const DICOMWEB_NODE: &str = r#"
import json, sys
import highdicom as hd
from dicomweb_client.api import DICOMwebClient
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from requests.exceptions import HTTPError

a = json.load(sys.stdin)
url = a["base"] + "/dicom-web"
node = DICOMwebClient(url, headers={"Authorization": "Bearer " + a["key"]})
out = {}
found = node.search_for_studies(search_filters={"AccessionNumber": a["accession"]})
out["found"] = len(found)
study = found[0]["0020000D"]["Value"][0]
out["study"] = study
out["instances_listed"] = found[0]["00201208"]["Value"][0]
images = node.retrieve_study(study)
out["retrieved"] = sorted(str(d.SOPInstanceUID) for d in images)
# Down the levels: the study's series, a series' instances, one instance.
series = node.search_for_series(study)
out["series"] = [(s["0020000E"]["Value"][0], s["00201209"]["Value"][0]) for s in series]
out["series_ct"] = len(node.search_for_series(study, search_filters={"Modality": "CT"}))
out["series_mr"] = len(node.search_for_series(study, search_filters={"Modality": "MR"}))
first_series = out["series"][0][0]
instances = node.search_for_instances(study, first_series)
out["instances"] = sorted(i["00080018"]["Value"][0] for i in instances)
one = out["instances"][1]
out["instance_found"] = len(node.search_for_instances(study, first_series,
    search_filters={"SOPInstanceUID": one}))
out["instance_retrieved"] = str(node.retrieve_instance(study, first_series, one).SOPInstanceUID)
for ds in images:
    for name, value in (("PatientBirthDate", ""), ("StudyID", ""),
                        ("ReferringPhysicianName", ""), ("StudyTime", "")):
        if name not in ds:
            setattr(ds, name, value)
algo = hd.sr.AlgorithmIdentification(name="Simulated PE Detector", version="3.2.0")
group = hd.sr.MeasurementsAndQualitativeEvaluations(
    tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier="PE 1"),
    finding_type=Code("59282003", "SCT", "Pulmonary embolism"), algorithm_id=algo,
    measurements=[hd.sr.Measurement(name=Code("122157", "DCM", "Probability"), value=0.88,
                                    unit=Code("1", "UCUM", "1"), algorithm_id=algo)])
context = hd.sr.ObservationContext(observer_device_context=hd.sr.ObserverContext(
    observer_type=codes.DCM.Device,
    observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(uid=hd.UID())))
report = hd.sr.MeasurementReport(observation_context=context,
    procedure_reported=Code("RPID16", "RADLEX", "CT chest"), imaging_measurements=[group])
sr = hd.sr.ComprehensiveSR(evidence=images, content=report, series_instance_uid=hd.UID(),
    series_number=98, sop_instance_uid=hd.UID(), instance_number=1, is_complete=True)
answer = node.store_instances([sr])
out["stored"] = [str(i.ReferencedSOPInstanceUID) for i in answer.ReferencedSOPSequence]
out["sr"] = str(sr.SOPInstanceUID)

# Beside the report, a segmentation of the embolism; and one of an unregistered algorithm.
for i, ds in enumerate(images):
    ds.FrameOfReferenceUID = study + ".9"
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.ImagePositionPatient = [0, 0, float(i)]
    ds.PixelSpacing, ds.SliceThickness = [0.5, 0.5], 1.0
import numpy as np
def segmentation(algorithm):
    mask = np.zeros((len(images), images[0].Rows, images[0].Columns), dtype=bool)
    mask[0, 2:4, 2:4] = True
    desc = hd.seg.SegmentDescription(segment_number=1, segment_label="PE",
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=Code("59282003", "SCT", "Pulmonary embolism"),
        algorithm_type="AUTOMATIC", algorithm_identification=hd.AlgorithmIdentificationSequence(
            name=algorithm, version="3.2.0", family=codes.cid7162.ArtificialIntelligence))
    return hd.seg.Segmentation(source_images=images, pixel_array=mask, segmentation_type="BINARY",
        segment_descriptions=[desc], series_instance_uid=hd.UID(), series_number=97,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="Simulated AI Vendor",
        manufacturer_model_name="Model X", software_versions="3.2.0", device_serial_number="1")
segs = [segmentation("Simulated PE Detector"), segmentation("Unregistered Detector")]
node.store_instances(segs)
out["segs"] = [str(s.SOPInstanceUID) for s in segs]

other = DICOMwebClient(url, headers={"Authorization": "Bearer " + a["other_key"]})
out["other_found"] = len(other.search_for_studies(search_filters={"AccessionNumber": a["accession"]}))
try:
    other.retrieve_study(study)
    out["other_retrieve"] = 200
except HTTPError as e:
    out["other_retrieve"] = e.response.status_code
try:
    other.search_for_series(study)
    out["other_series"] = 200
except HTTPError as e:
    out["other_series"] = e.response.status_code
try:
    other.store_instances([sr])
    out["other_store"] = 200
except HTTPError as e:
    out["other_store"] = e.response.status_code
print(json.dumps(out))
"#;

fn dcmtk(bin: &str, args: &[&str]) -> std::process::Output {
    Command::new(format!("/usr/bin/{bin}"))
        .args(args)
        .env("TCP_NODELAY", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run /usr/bin/{bin}: {e}; .ci/run installs dcmtk"))
}

/// Sends every file in `dir` to radgate's receiver at `addr` with dcmtk's `storescu`
/// (calling AE `aet`), which must succeed.
fn storescu(aet: &str, addr: &str, dir: &Path) {
    let (host, port) = addr.rsplit_once(':').unwrap();
    let sent = dcmtk(
        "storescu",
        &[
            "-aet",
            aet,
            "-aec",
            "RADGATE",
            "+sd",
            host,
            port,
            dir.to_str().unwrap(),
        ],
    );
    assert!(
        sent.status.success(),
        "storescu: {}",
        String::from_utf8_lossy(&sent.stderr)
    );
}

fn tmp(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn wait_for_decision(url: &str, key: &str, acc: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = call(
            "GET",
            &format!("{url}/api/v1/studies/{acc}/decision"),
            Some(key),
            None,
            None,
        );
        if r.status == 200 {
            return r.body;
        }
        assert!(
            Instant::now() < deadline,
            "{acc} was never routed: {}",
            r.body
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn stored(root: &Path, study: &str, series: &str, sop: &str) -> PathBuf {
    root.join(study).join(series).join(format!("{sop}.dcm"))
}

/// An acknowledged instance is in the receiver's journal; its own file follows within
/// moments.
fn wait_for_file(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        assert!(Instant::now() < deadline, "{} not stored", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn images_sent_by_dcmtk_and_pynetdicom_are_stored_durably_grouped_and_routed_with_their_order() {
    for (n, db) in databases("dicom_receive").into_iter().enumerate() {
        let storage = tmp(&format!("dicom-storage-{n}"));
        let s = receiver(&db, &storage, "1", &[]);
        let addr = s.dicom.clone().unwrap();
        let (host, port) = addr.rsplit_once(':').unwrap();
        let key = provision_people(&db);
        // The RIS ordered a stat CTPA under this accession.
        let order = json!({"accession": "DCM1", "patient": "PSEUDO-77", "procedure_code": "CTPA",
            "modality": "CT", "priority": "stat", "ordering_department": "SEH",
            "ordered_at": chrono::Utc::now().to_rfc3339(), "status": "placed"});
        let r = call(
            "POST",
            &format!("{}/api/v1/orders", s.url),
            Some(&key),
            None,
            Some(&order),
        );
        assert_eq!(r.status, 201, "{}", r.body);

        let echo = dcmtk(
            "echoscu",
            &["-aet", "TESTSCU", "-aec", "RADGATE", host, port],
        );
        assert!(
            echo.status.success(),
            "C-ECHO: {}",
            String::from_utf8_lossy(&echo.stderr)
        );

        let study = format!("1.2.826.0.1.3680043.10.543.{n}");
        let (s1, s2) = (format!("{study}.1"), format!("{study}.2"));
        let dir = tmp(&format!("dicom-send-{n}"));
        let files = py(
            GENERATE,
            &json!({"dir": dir, "study": study, "accession": "DCM1", "series": [[s1, 3], [s2, 2]]}),
        );
        storescu("TESTSCU", &addr, &dir);
        // One file per instance under Study/Series/SOP, readable by dcmtk and pydicom,
        // with the received bytes kept (pixel data and all).
        for (series, count) in [(&s1, 3), (&s2, 2)] {
            for i in 1..=count {
                let path = stored(&storage, &study, series, &format!("{series}.{i}"));
                wait_for_file(&path);
                let dump = dcmtk("dcmdump", &[path.to_str().unwrap()]);
                assert!(
                    dump.status.success(),
                    "{}",
                    String::from_utf8_lossy(&dump.stderr)
                );
                assert!(String::from_utf8_lossy(&dump.stdout).contains("(0008,0050) SH [DCM1]"));
            }
        }
        let first = files[0].as_str().unwrap();
        let cmp = py(
            COMPARE,
            &json!({"sent": first, "stored": stored(&storage, &study, &s1, &format!("{s1}.1"))}),
        );
        assert_eq!(cmp["same_pixels"], true);
        assert_eq!(cmp["ts"], "1.2.840.10008.1.2.1");

        // Quiet for a second: the study is complete and routed with its order's priority.
        let decision = wait_for_decision(&s.url, &key, "DCM1");
        assert_eq!(decision["priority"], "stat", "{decision}");
        // The images' patient name and sex are the study's, for the screens.
        let body: Value = serde_json::from_str(
            &support::scalar(
                &db[1],
                "SELECT body FROM studies WHERE accession = $1",
                "DCM1",
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(body["patient_name"], "Synthetic^Patient", "{body}");
        assert_eq!(body["patient_sex"], "F", "{body}");

        // pynetdicom in Implicit VR: a data set without a Study Instance UID is refused
        // with a failure status, and the same association stores the next instance.
        let bad_dir = tmp(&format!("dicom-bad-{n}"));
        let bad = py(
            GENERATE,
            &json!({"dir": bad_dir, "study": study, "accession": "DCM1",
                "series": [[format!("{study}.9"), 1]], "missing": ["StudyInstanceUID"]}),
        );
        let late_dir = tmp(&format!("dicom-late-{n}"));
        let late = py(
            GENERATE,
            &json!({"dir": late_dir, "study": study, "accession": "DCM1", "series": [[format!("{study}.3"), 1]]}),
        );
        let r = py(
            PYNETDICOM_STORE,
            &json!({"addr": addr, "files": [bad[0], late[0]]}),
        );
        assert_eq!(r["statuses"], json!([0xC000, 0]), "{r}");
        let late_path = stored(
            &storage,
            &study,
            &format!("{study}.3"),
            &format!("{study}.3.1"),
        );
        wait_for_file(&late_path);
        let cmp = py(COMPARE, &json!({"sent": late[0], "stored": late_path}));
        assert_eq!(
            cmp["ts"], "1.2.840.10008.1.2",
            "stored in the negotiated syntax, as received"
        );
        assert_eq!(cmp["same_pixels"], true);
        // The late series routes the study again: the completion counter moves on.
        let deadline = Instant::now() + Duration::from_secs(20);
        while completions(&db[1], &study) < 2 {
            assert!(
                Instant::now() < deadline,
                "the late instance did not complete the study again"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        // A second echo after all that: the receiver is still there.
        assert!(
            dcmtk(
                "echoscu",
                &["-aet", "TESTSCU", "-aec", "RADGATE", host, port]
            )
            .status
            .success()
        );
    }
}

fn completions(db: &str, study: &str) -> i64 {
    support::scalar(
        db,
        "SELECT CAST(completions AS TEXT) FROM dicom_studies WHERE study_uid = $1",
        study,
    )
    .map_or(0, |n| n.parse().unwrap())
}

#[test]
fn a_completed_study_is_forwarded_to_the_ai_node_once_it_is_up() {
    let db = databases("dicom_forward").remove(0);
    let storage = tmp("dicom-forward-storage");
    let node_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let node = format!("AINODE@127.0.0.1:{node_port}");
    let s = receiver(&db, &storage, "1", &["--forward-to", &node]);
    let addr = s.dicom.clone().unwrap();
    let study = "1.2.826.0.1.3680043.10.544.1";
    let dir = tmp("dicom-forward-send");
    py(
        GENERATE,
        &json!({"dir": dir, "study": study, "accession": "FWD1", "series": [[format!("{study}.1"), 3]]}),
    );
    storescu("MODALITY", &addr, &dir);
    // The AI node (dcmtk's storescp as a stand-in) comes up only after the study completed:
    // the forward waits in the outbox and is retried.
    std::thread::sleep(Duration::from_secs(3));
    let out = tmp("dicom-forward-node");
    let mut node = Command::new("/usr/bin/storescp")
        .args([
            "-aet",
            "AINODE",
            // One file per instance received, so that a repeat would show.
            "+uf",
            "-od",
            out.to_str().unwrap(),
            &node_port.to_string(),
        ])
        .env("TCP_NODELAY", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect(".ci/run installs dcmtk");
    let node_files = |want: usize| {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let files: Vec<PathBuf> = std::fs::read_dir(&out)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            if files.len() >= want {
                break files;
            }
            assert!(
                Instant::now() < deadline,
                "the node has {} of {want} instances",
                files.len()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let received = node_files(3);
    std::thread::sleep(Duration::from_millis(300));
    let mut sops: Vec<String> = received
        .iter()
        .map(|f| {
            let dump = dcmtk("dcmdump", &["+P", "0008,0018", f.to_str().unwrap()]);
            let text = String::from_utf8_lossy(&dump.stdout).into_owned();
            text.split('[')
                .nth(1)
                .unwrap()
                .split(']')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    sops.sort();
    assert_eq!(
        sops,
        (1..=3)
            .map(|i| format!("{study}.1.{i}"))
            .collect::<Vec<_>>()
    );

    // A late series completes the study again: the node gets the new instance alone.
    let late = tmp("dicom-forward-late");
    py(
        GENERATE,
        &json!({"dir": late, "study": study, "accession": "FWD1", "series": [[format!("{study}.2"), 1]]}),
    );
    storescu("MODALITY", &addr, &late);
    let received = node_files(4);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        std::fs::read_dir(&out).unwrap().count(),
        4,
        "the late completion sent the study again: {received:?}"
    );
    let _ = node.kill();
    let _ = node.wait();
}

#[test]
fn instances_acknowledged_before_a_crash_are_filed_and_indexed_at_the_next_start() {
    let db = databases("dicom_crash").remove(0);
    let storage = tmp("dicom-crash-storage");
    let flags = [
        "--dicom-listen",
        "127.0.0.1:0",
        "--dicom-storage",
        storage.to_str().unwrap(),
        "--dicom-quiet-seconds",
        "3600",
    ];
    let mut s = Server::start_with(&db, &flags);
    let addr = s.dicom.clone().unwrap();
    let study = "1.2.826.0.1.3680043.10.545.1";
    let series = format!("{study}.1");
    let dir = tmp("dicom-crash-send");
    let sent_files = py(
        GENERATE,
        &json!({"dir": dir, "study": study, "accession": "CRASH1", "series": [[series, 4]]}),
    );
    storescu("MODALITY", &addr, &dir);
    let files: Vec<PathBuf> = (1..=4)
        .map(|i| stored(&storage, study, &series, &format!("{series}.{i}")))
        .collect();
    for f in &files {
        wait_for_file(f);
    }
    // A file appears a moment before its batch of index rows commits: wait for the rows
    // too, so that the crash below takes away exactly what the test deletes.
    let deadline = Instant::now() + Duration::from_secs(10);
    while support::scalar(
        &db[1],
        "SELECT CAST(COUNT(*) AS TEXT) FROM dicom_instances WHERE study_uid = $1",
        study,
    )
    .as_deref()
        != Some("4")
    {
        assert!(
            Instant::now() < deadline,
            "the instances were never indexed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The power goes: radgate dies, and what the file system had not synced is gone (the
    // files and their index rows; the journal was flushed before each acknowledgement).
    s.kill9();
    std::fs::remove_dir_all(storage.join(study)).unwrap();
    let sqlite = db[1].clone();
    let deleted = py(
        "import json, sqlite3, sys\n\
         c = sqlite3.connect(json.load(sys.stdin)['db'])\n\
         n = c.execute('DELETE FROM dicom_instances').rowcount\n\
         c.execute('DELETE FROM dicom_studies'); c.commit()\n\
         print(json.dumps(n))",
        &json!({"db": sqlite}),
    );
    assert_eq!(deleted, 4);

    let s = Server::start_with(&db, &flags);
    for (n, f) in files.iter().enumerate() {
        assert!(f.exists(), "{} not written again", f.display());
        let cmp = py(COMPARE, &json!({"sent": sent_files[n], "stored": f}));
        assert_eq!(cmp["same_pixels"], true, "{cmp}");
    }
    assert_eq!(
        support::scalar(
            &db[1],
            "SELECT CAST(instances AS TEXT) FROM dicom_studies WHERE study_uid = $1",
            study
        )
        .as_deref(),
        Some("4")
    );
    drop(s);
}

#[test]
fn a_study_completes_once_the_series_its_order_expects_are_in() {
    let db = databases("dicom_expected").remove(0);
    let storage = tmp("dicom-expected-storage");
    // An hour's quiet period: only the order's expected series can complete the study.
    let s = receiver(&db, &storage, "3600", &["--dicom-settle-seconds", "1"]);
    let addr = s.dicom.clone().unwrap();
    let key = provision_people(&db);
    let order = json!({"accession": "SER2", "patient": "PSEUDO-78", "procedure_code": "CTPA",
        "modality": "CT", "priority": "urgent", "ordering_department": "SEH",
        "ordered_at": chrono::Utc::now().to_rfc3339(), "status": "placed", "expected_series": 2});
    let r = call(
        "POST",
        &format!("{}/api/v1/orders", s.url),
        Some(&key),
        None,
        Some(&order),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let study = "1.2.826.0.1.3680043.10.546.1";
    let send = |series: &str, name: &str, rows: u32| {
        let dir = tmp(name);
        let files = py(
            GENERATE,
            &json!({"dir": dir, "study": study, "accession": "SER2", "series": [[series, 2]], "rows": rows}),
        );
        storescu("MODALITY", &addr, &dir);
        files
    };
    // One of the two series: after several settle periods the study is still open.
    send(&format!("{study}.1"), "dicom-expected-1", 64);
    std::thread::sleep(Duration::from_secs(4));
    let r = call(
        "GET",
        &format!("{}/api/v1/studies/SER2/decision", s.url),
        Some(&key),
        None,
        None,
    );
    assert_eq!(r.status, 404, "routed with one of two series: {}", r.body);
    assert_eq!(completions(&db[1], study), 0);
    // The second series: complete and routed without waiting the hour. Its images of
    // 8.8 MB are too large for the receiver's journal: each is fsync'd to its file and
    // indexed before it is answered.
    let series2 = format!("{study}.2");
    let large = send(&series2, "dicom-expected-2", 2100);
    for (n, sent) in large.as_array().unwrap().iter().enumerate() {
        let path = stored(&storage, study, &series2, &format!("{series2}.{}", n + 1));
        assert!(
            path.exists(),
            "{} not stored before the answer",
            path.display()
        );
        let cmp = py(COMPARE, &json!({"sent": sent, "stored": path}));
        assert_eq!(cmp["same_pixels"], true, "{cmp}");
    }
    let decision = wait_for_decision(&s.url, &key, "SER2");
    assert_eq!(decision["priority"], "urgent", "{decision}");
    assert_eq!(completions(&db[1], study), 1);
}

#[test]
fn concurrent_associations_share_the_journal_and_every_instance_is_filed_once() {
    let db = databases("dicom_concurrent").remove(0);
    let storage = tmp("dicom-concurrent-storage");
    let s = receiver(&db, &storage, "3600", &[]);
    let addr = s.dicom.clone().unwrap();
    let (host, port) = addr.rsplit_once(':').unwrap();
    let study = "1.2.826.0.1.3680043.10.547.1";
    // Four modalities at once, 25 instances each, into one study.
    let senders: Vec<std::process::Child> = (1..=4)
        .map(|k| {
            let dir = tmp(&format!("dicom-concurrent-{k}"));
            py(
                GENERATE,
                &json!({"dir": dir, "study": study, "accession": "CONC1", "series": [[format!("{study}.{k}"), 25]]}),
            );
            Command::new("/usr/bin/storescu")
                .args(["-aet", &format!("MOD{k}"), "-aec", "RADGATE", "+sd", host, port])
                .arg(&dir)
                .env("TCP_NODELAY", "1")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect(".ci/run installs dcmtk")
        })
        .collect();
    for child in senders {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let indexed = support::scalar(
            &db[1],
            "SELECT CAST(instances AS TEXT) FROM dicom_studies WHERE study_uid = $1",
            study,
        );
        if indexed.as_deref() == Some("100") {
            break;
        }
        assert!(Instant::now() < deadline, "indexed {indexed:?} of 100");
        std::thread::sleep(Duration::from_millis(100));
    }
    for k in 1..=4 {
        let series = format!("{study}.{k}");
        for n in 1..=25 {
            let path = stored(&storage, study, &series, &format!("{series}.{n}"));
            assert!(path.exists(), "{} not filed", path.display());
        }
    }
    assert_eq!(
        support::scalar(
            &db[1],
            "SELECT CAST(COUNT(DISTINCT calling_ae) AS TEXT) FROM dicom_instances WHERE study_uid = $1",
            study,
        )
        .as_deref(),
        Some("4")
    );
}

#[test]
fn a_newer_copy_too_large_for_the_journal_is_not_replaced_by_the_journaled_older_one() {
    let db = databases("dicom_newer").remove(0);
    let storage = tmp("dicom-newer-storage");
    let flags = [
        "--dicom-listen",
        "127.0.0.1:0",
        "--dicom-storage",
        storage.to_str().unwrap(),
        "--dicom-quiet-seconds",
        "3600",
    ];
    let mut s = Server::start_with(&db, &flags);
    let addr = s.dicom.clone().unwrap();
    let study = "1.2.826.0.1.3680043.10.548.1";
    let series = format!("{study}.1");
    let copy = |rows: u32, name: &str| {
        let files = py(
            GENERATE,
            &json!({"dir": tmp(name), "study": study, "accession": "NEWER1", "series": [[series, 1]], "rows": rows}),
        );
        let r = py(PYNETDICOM_STORE, &json!({"addr": addr, "files": files}));
        assert_eq!(r["statuses"], json!([0]), "{r}");
        files[0].clone()
    };
    let path = stored(&storage, study, &series, &format!("{series}.1"));
    copy(64, "dicom-newer-small");
    wait_for_file(&path);
    // The modality sends the same instance again, now 8.8 MB: filed directly.
    let large = copy(2100, "dicom-newer-large");
    // radgate dies with the small copy still in its journal, and starts again.
    s.kill9();
    let s = Server::start_with(&db, &flags);
    let cmp = py(COMPARE, &json!({"sent": large, "stored": path}));
    assert_eq!(cmp["same_pixels"], true, "the older copy came back: {cmp}");
    drop(s);
}

/// Issue 12, item 4: a received study that cannot be routed as it came (an accession number
/// longer than DICOM's 16 characters, no order) is kept and put on the reconciliation list
/// with the reason, counted in /metrics, and the department's reconciler is told; sent with
/// dcmtk's storescu.
#[test]
fn studies_that_cannot_be_routed_land_on_the_reconciliation_list() {
    let db = databases("dicom_reconcile").remove(0);
    let storage = tmp("dicom-reconcile");
    let s = receiver(&db, &storage, "1", &[]);
    let addr = s.dicom.clone().unwrap();
    let key = provision_people(&db);
    let files = tmp("dicom-reconcile-files");
    for (study, accession) in [
        ("1.2.826.0.1.3680043.8.498.7001", "ACC-TOO-LONG-FOR-DICOM"),
        ("1.2.826.0.1.3680043.8.498.7002", "NOORDER1"),
    ] {
        py(
            GENERATE,
            &json!({"dir": files.to_str().unwrap(), "study": study, "accession": accession,
                "series": [[format!("{study}.1"), 2]]}),
        );
    }
    storescu("MODALITY1", &addr, &files);
    let deadline = Instant::now() + Duration::from_secs(20);
    let list = loop {
        let r = call(
            "GET",
            &format!("{}/api/v1/reconciliation", s.url),
            Some(&key),
            None,
            None,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        if r.body.as_array().unwrap().len() == 2 {
            break r.body;
        }
        assert!(Instant::now() < deadline, "never listed: {}", r.body);
        std::thread::sleep(Duration::from_millis(200));
    };
    let reason = |study: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|e| e["study_uid"] == study)
            .unwrap_or_else(|| panic!("{study} not listed: {list}"))["reason"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let long = reason("1.2.826.0.1.3680043.8.498.7001");
    assert!(
        long.starts_with("not routed: ") && long.contains("16"),
        "{long}"
    );
    let orphan = reason("1.2.826.0.1.3680043.8.498.7002");
    assert!(
        orphan.contains("no order for accession `NOORDER1`"),
        "{orphan}"
    );
    assert_eq!(list[0]["instances"], 2);
    // Kept, not lost: the files are stored.
    wait_for_file(&stored(
        &storage,
        "1.2.826.0.1.3680043.8.498.7001",
        "1.2.826.0.1.3680043.8.498.7001.1",
        "1.2.826.0.1.3680043.8.498.7001.1.1",
    ));
    let metrics = support::agent()
        .get(format!("{}/metrics", s.url))
        .call()
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    assert!(
        metrics.contains("radgate_reconciliation_open 2"),
        "{metrics}"
    );
    let rad = login(&s.url, "devries");
    let notes = call(
        "GET",
        &format!("{}/api/v1/notifications", s.url),
        None,
        Some(&rad),
        None,
    )
    .body;
    let texts: Vec<&str> = notes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts
            .iter()
            .filter(|t| t.contains("needs reconciliation"))
            .count(),
        2,
        "{texts:?}"
    );
    // A session that may not search clinical records does not see the list.
    let ap = login(&s.url, "smit");
    assert_eq!(
        call(
            "GET",
            &format!("{}/api/v1/reconciliation", s.url),
            None,
            Some(&ap),
            None
        )
        .status,
        403
    );
}

/// Issue 12, item 9: the receiver has limits. Over `--dicom-max-associations` an
/// association is refused (A-ASSOCIATE-RJ, transient, local limit exceeded), a calling AE
/// title not listed is refused, a data set larger than the journal takes goes to disk as
/// it arrives and is stored whole, and one larger than `--dicom-max-instance-mib` aborts
/// its association and leaves nothing behind. With dcmtk's echoscu and storescu.
#[test]
fn the_receiver_bounds_associations_callers_and_instance_sizes() {
    let db = databases("dicom_limits").remove(0);
    let storage = tmp("dicom-limits");
    let s = Server::start_with(
        &db,
        &[
            "--dicom-listen",
            "127.0.0.1:0",
            "--dicom-storage",
            storage.to_str().unwrap(),
            "--dicom-max-associations",
            "2",
            "--dicom-allow-ae",
            "MODALITY1",
            "--dicom-max-instance-mib",
            "16",
        ],
    );
    let addr = s.dicom.clone().unwrap();
    let (host, port) = addr.rsplit_once(':').unwrap();
    let echo = |aet: &str| dcmtk("echoscu", &["-aet", aet, "-aec", "RADGATE", host, port]);
    assert!(echo("MODALITY1").status.success());
    let refused = echo("STRANGER");
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr).to_lowercase();
    assert!(why.contains("calling ae title not recognized"), "{why}");

    // Connections that say nothing: two hold both places, the rest are refused; the
    // process does not grow a thread per connection (1,500 idle ones once made 1,509).
    let threads = || {
        std::fs::read_to_string(format!("/proc/{}/status", s.child.id()))
            .unwrap()
            .lines()
            .find_map(|l| {
                l.strip_prefix("Threads:")
                    .map(|n| n.trim().parse::<usize>().unwrap())
            })
            .unwrap()
    };
    let before = threads();
    let idle: Vec<_> = (0..200)
        .map(|_| std::net::TcpStream::connect(&addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let with_idle = threads();
    assert!(
        with_idle <= before + 2,
        "{before} threads before, {with_idle} with 200 idle connections"
    );
    let busy = echo("MODALITY1");
    assert!(!busy.status.success());
    let why = String::from_utf8_lossy(&busy.stderr).to_lowercase();
    assert!(
        why.contains("rejected transient") && why.contains("local limit exceeded"),
        "{why}"
    );
    drop(idle);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !echo("MODALITY1").status.success() {
        assert!(
            Instant::now() < deadline,
            "the places were never given back"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // 12.5 MB goes to disk as it arrives and is stored whole; 32 MB is over the limit.
    let study = "1.2.826.0.1.3680043.8.498.7100";
    for (dir, rows, series) in [("limits-big", 2500, "1"), ("limits-huge", 4000, "2")] {
        py(
            GENERATE,
            &json!({"dir": tmp(dir).to_str().unwrap(), "study": study, "accession": "LIM1",
                "series": [[format!("{study}.{series}"), 1]], "rows": rows}),
        );
    }
    storescu("MODALITY1", &addr, &tmp_keep("limits-big"));
    let big = stored(
        &storage,
        study,
        &format!("{study}.1"),
        &format!("{study}.1.1"),
    );
    wait_for_file(&big);
    assert!(std::fs::metadata(&big).unwrap().len() > 12_000_000);
    let sent = dcmtk(
        "storescu",
        &[
            "-aet",
            "MODALITY1",
            "-aec",
            "RADGATE",
            "+sd",
            host,
            port,
            tmp_keep("limits-huge").to_str().unwrap(),
        ],
    );
    let said = String::from_utf8_lossy(&sent.stderr).to_lowercase();
    assert!(!sent.status.success() || said.contains("abort"), "{said}");
    assert!(
        !stored(
            &storage,
            study,
            &format!("{study}.2"),
            &format!("{study}.2.1")
        )
        .exists()
    );
    let incoming = storage.join(".incoming");
    let left = std::fs::read_dir(&incoming).map_or(0, |d| d.count());
    assert_eq!(left, 0, "an aborted instance leaves no spill file");
    assert!(echo("MODALITY1").status.success(), "the receiver goes on");
}

/// The directory `name` under the target's scratch space, as `tmp` made it (not emptied).
fn tmp_keep(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}

/// Issue 14, item 1: an AI node's TID 1500 structured report, written by highdicom and sent
/// by dcmtk's storescu, is filed like any instance and read into its application's result
/// through the one ingest path: the study is routed again by it, the call is monitored,
/// and a report that does not match the register's declaration (a score in the wrong
/// unit) is kept, not read, and listed for reconciliation with the reason.
#[test]
fn an_ai_nodes_structured_report_is_read_into_its_result_and_routes_the_study() {
    for (n, db) in databases("dicom_sr").into_iter().enumerate() {
        let storage = tmp(&format!("dicom-sr-storage-{n}"));
        // The AI node (dcmtk's storescp as a stand-in) gets the study forwarded.
        let (mut node, node_port, node_dir) = storescp("AINODE", &format!("dicom-sr-node-{n}"));
        // The PACS gets radgate's own report of the result.
        let (mut pacs, pacs_port, pacs_dir) = storescp("PACS", &format!("dicom-sr-pacs-{n}"));
        let s = receiver(
            &db,
            &storage,
            "1",
            &[
                "--forward-to",
                &format!("AINODE@127.0.0.1:{node_port}"),
                "--sr-to",
                &format!("PACS@127.0.0.1:{pacs_port}"),
            ],
        );
        let addr = s.dicom.clone().unwrap();
        let key = provision_people(&db);
        support::http::add_account(&db, "bakker", "rad-bakker");
        let u = |p: &str| format!("{}{p}", s.url);
        let acc = format!("SR{n}");
        let order = json!({"accession": acc, "patient": "PSEUDO-77", "procedure_code": "CTPA",
            "modality": "CT", "priority": "routine", "ordering_department": "SEH",
            "ordered_at": chrono::Utc::now().to_rfc3339(), "status": "placed"});
        let r = call("POST", &u("/api/v1/orders"), Some(&key), None, Some(&order));
        assert_eq!(r.status, 201, "{}", r.body);
        let study = format!("1.2.826.0.1.3680043.10.544.{n}");
        let images = tmp(&format!("dicom-sr-images-{n}"));
        let files = py(
            GENERATE,
            &json!({"dir": images, "study": study, "accession": acc,
                "series": [[format!("{study}.1"), 2]]}),
        );
        storescu("MODALITY1", &addr, &images);
        let before = wait_for_decision(&s.url, &key, &acc);
        assert_ne!(before["rule"], "ctpa-pe-positive", "{before}");

        // The AI node answers with its report, as AI products do.
        let sr_dir = tmp(&format!("dicom-sr-report-{n}"));
        let sr = py(
            WRITE_SR,
            &json!({"images": files, "dir": sr_dir, "algorithm": "Simulated PE Detector",
                "version": "3.2.0", "score": 0.93, "unit": "1"}),
        );
        storescu("AINODE", &addr, &sr_dir);
        let deadline = Instant::now() + Duration::from_secs(20);
        let decision = loop {
            let d = wait_for_decision(&s.url, &key, &acc);
            if d["rule"] == "ctpa-pe-positive" {
                break d;
            }
            assert!(Instant::now() < deadline, "never routed by the SR: {d}");
            std::thread::sleep(Duration::from_millis(200));
        };
        assert_eq!(decision["priority"], "stat", "{decision}");
        // radgate's report to the PACS names the two CT images it is about, in its image
        // library and its evidence, and validates.
        let ours = first_file(&pacs_dir, "the PACS never got radgate's report");
        pacs.kill().ok();
        pacs.wait().ok();
        let back = py(READ_SR, &json!({"path": ours}));
        let ct: Vec<String> = (1..=2).map(|i| format!("{study}.1.{i}")).collect();
        // In the order they arrived, which the sender chose.
        let sorted = |v: &Value| {
            let mut uids: Vec<String> = serde_json::from_value(v.clone()).unwrap();
            uids.sort();
            uids
        };
        assert_eq!(sorted(&back["images"]), ct, "{back}");
        assert_eq!(sorted(&back["evidence"]), ct, "{back}");
        assert_eq!(back["notes"]["Routing rule"], "ctpa-pe-positive", "{back}");
        dciodvfy_accepts(&ours);
        let rad = login(&s.url, "devries");
        let truth = |cookie: &str| {
            call(
                "GET",
                &u(&format!("/api/v1/studies/{acc}/truth")),
                None,
                Some(cookie),
                None,
            )
            .body
        };
        let calls = truth(&rad)["calls"].clone();
        assert_eq!(calls.as_array().unwrap().len(), 1, "{calls}");
        assert_eq!(calls[0]["app"], "pe-detect", "{calls}");
        assert_eq!(calls[0]["version"], "3.2.0", "{calls}");
        // 0.93 is above the register's operating point (0.6): a positive call.
        assert_eq!(calls[0]["positive"], true, "{calls}");
        // Filed like any instance, under its own series.
        let sop = sr["sop"].as_str().unwrap();
        let filed = std::fs::read_dir(storage.join(&study))
            .unwrap()
            .filter_map(|e| e.ok())
            .any(|series| series.path().join(format!("{sop}.dcm")).exists());
        assert!(filed, "the SR is stored");
        // The same report sent again changes nothing.
        storescu("AINODE", &addr, &sr_dir);

        // A report whose score is in a unit the register does not declare.
        let bad_dir = tmp(&format!("dicom-sr-bad-{n}"));
        let bad = py(
            WRITE_SR,
            &json!({"images": files, "dir": bad_dir, "algorithm": "Simulated PE Detector",
                "version": "3.2.0", "score": 93.0, "unit": "%"}),
        );
        storescu("AINODE", &addr, &bad_dir);
        let deadline = Instant::now() + Duration::from_secs(20);
        let entry = loop {
            let r = call("GET", &u("/api/v1/reconciliation"), Some(&key), None, None);
            assert_eq!(r.status, 200, "{}", r.body);
            if let Some(e) = r
                .body
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["sop_uid"] == bad["sop"])
            {
                break e.clone();
            }
            assert!(Instant::now() < deadline, "never listed: {}", r.body);
            std::thread::sleep(Duration::from_millis(200));
        };
        let reason = entry["reason"].as_str().unwrap();
        assert!(
            reason.contains("unit `UCUM:%`") && reason.contains("`UCUM:1`"),
            "{reason}"
        );
        assert_eq!(entry["accession"], acc.as_str());
        assert_eq!(entry["study_uid"], study.as_str());
        // Not read: still one call, and the first report's decision stands.
        assert_eq!(truth(&rad)["calls"].as_array().unwrap().len(), 1);
        assert_eq!(
            wait_for_decision(&s.url, &key, &acc)["rule"],
            "ctpa-pe-positive"
        );

        // Reported, the SR's call is scored in the application's metrics.
        let items = call("GET", &u("/api/v1/worklist"), None, Some(&rad), None).body;
        let item = items
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["accession"] == acc.as_str())
            .unwrap_or_else(|| panic!("{acc} not on the worklist: {items}"))["id"]
            .as_u64()
            .unwrap();
        let post = |path: &str, body: Option<&Value>| {
            call("POST", &u(path), None, Some(&rad), body).status
        };
        assert_eq!(post(&format!("/api/v1/work-items/{item}/claim"), None), 200);
        let draft = json!({"text": "Longembolie rechts.", "findings": ["pulmonary_embolism"]});
        assert_eq!(
            post(&format!("/api/v1/reports/{acc}/draft"), Some(&draft)),
            201
        );
        assert_eq!(post(&format!("/api/v1/reports/{acc}/authorize"), None), 200);
        let raio = login(&s.url, "bakker");
        let m = call(
            "GET",
            &u("/api/v1/ai/pe-detect/metrics"),
            None,
            Some(&raio),
            None,
        );
        assert_eq!(m.body[0]["counts"]["tp"], 1, "{}", m.body);

        // The AI node got the images and never its own reports back: once the outbox is
        // empty, it holds the two CT instances alone.
        let deadline = Instant::now() + Duration::from_secs(30);
        // Every instance (the reports too) belongs to a completion, owed to the node.
        while support::scalar(
            &db[1],
            "SELECT CAST(COUNT(*) AS TEXT) FROM dicom_instances WHERE study_uid = $1 AND completion IS NULL",
            &study,
        )
        .as_deref()
            != Some("0")
        {
            assert!(Instant::now() < deadline, "the reports never completed");
            std::thread::sleep(Duration::from_millis(200));
        }
        assert!(completions(&db[1], &study) >= 2);
        loop {
            let pending = support::scalar(
                &db[1],
                "SELECT CAST(COUNT(*) AS TEXT) FROM outbox WHERE sent_at IS NULL AND destination = $1",
                &format!("dicom:AINODE@127.0.0.1:{node_port}"),
            );
            if pending.as_deref() == Some("0") {
                break;
            }
            assert!(Instant::now() < deadline, "the outbox never drained");
            std::thread::sleep(Duration::from_millis(200));
        }
        let at_node = std::fs::read_dir(&node_dir).unwrap().count();
        node.kill().ok();
        node.wait().ok();
        assert_eq!(at_node, 2, "the AI node holds the CT images only");
    }
}

/// radgate with its DICOM receiver on a free port, storing under `storage`, a study
/// complete after `quiet` seconds without a new instance; `more` flags after those.
fn receiver(db: &[String], storage: &std::path::Path, quiet: &str, more: &[&str]) -> Server {
    let mut flags = vec![
        "--dicom-listen",
        "127.0.0.1:0",
        "--dicom-storage",
        storage.to_str().unwrap(),
        "--dicom-quiet-seconds",
        quiet,
    ];
    flags.extend_from_slice(more);
    Server::start_with(db, &flags)
}

/// dcmtk's storescp on a free port as a stand-in node: (process, port, where it files).
fn storescp(ae: &str, dir: &str) -> (std::process::Child, u16, PathBuf) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tmp(dir);
    let child = Command::new("/usr/bin/storescp")
        .args(["-aet", ae, "+uf", "-od", dir.to_str().unwrap()])
        .arg(port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect(".ci/run installs dcmtk");
    (child, port, dir)
}

/// The first file to arrive in `dir`, within 30 seconds.
fn first_file(dir: &std::path::Path, never: &str) -> PathBuf {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(f) = std::fs::read_dir(dir).unwrap().next() {
            return f.unwrap().path();
        }
        assert!(Instant::now() < deadline, "{never}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// dicom3tools' `dciodvfy` finds no error in `file`, a Comprehensive SR (warnings, such as
/// radgate's local coding scheme, allowed).
fn dciodvfy_accepts(file: &std::path::Path) {
    let python = std::env::var("RADGATE_PYTHON").expect("scripts/test sets RADGATE_PYTHON");
    let dciodvfy = std::path::Path::new(&python).with_file_name("dciodvfy");
    let v = Command::new(&dciodvfy)
        .arg(file)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}; scripts/test installs dicom3tools",
                dciodvfy.display()
            )
        });
    let verdict = format!(
        "{}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
    assert!(verdict.contains("ComprehensiveSR"), "{verdict}");
    assert!(!verdict.contains("Error"), "dciodvfy: {verdict}");
}

/// Issue 14, item 2: radgate writes each AI result, whatever route it came by, as a TID
/// 1500 structured report for the PACS, sent through the outbox: dicom3tools' `dciodvfy`
/// finds no error in it, dcmtk's `dsrdump` reads it, and highdicom reads back the
/// finding, score, call, algorithm identification and how radgate routed the study.
#[test]
fn each_ai_result_reaches_the_pacs_as_a_structured_report_that_validators_accept() {
    let db = databases("dicom_sr_out").remove(0);
    let (mut pacs, pacs_port, pacs_dir) = storescp("PACS", "dicom-sr-out-pacs");
    let s = Server::start_with(&db, &["--sr-to", &format!("PACS@127.0.0.1:{pacs_port}")]);
    let key = provision_people(&db);
    support::http::add_account(&db, "bakker", "rad-bakker");
    let u = |p: &str| format!("{}{p}", s.url);
    // A shadow application's results are for the RAIO, never for the PACS.
    let raio = login(&s.url, "bakker");
    let r = call(
        "POST",
        &u("/api/v1/ai/ich-detect/status"),
        None,
        Some(&raio),
        Some(&json!({"status": "shadow", "reason": "silent trial"})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let head = json!({"accession": "SRSHADOW", "patient": "PSEUDO-6", "modality": "CT",
        "procedure_code": "CTHEAD", "body_part": "HEAD", "priority": "urgent", "site": "main",
        "ordering_department": "ED", "acquired_at": chrono::Utc::now().to_rfc3339()});
    let r = call("POST", &u("/api/v1/studies"), Some(&key), None, Some(&head));
    assert_eq!(r.status, 201, "{}", r.body);
    let shadow = json!({"id": "ai-srout-shadow", "app": "ich-detect", "app_version": "4.0.1",
        "accession": "SRSHADOW", "received_at": chrono::Utc::now().to_rfc3339(),
        "findings": [{"code": "intracranial_hemorrhage", "score": 0.97}]});
    let r = call(
        "POST",
        &u("/api/v1/ai-results"),
        Some(&key),
        None,
        Some(&shadow),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let study_uid = "1.2.826.0.1.3680043.10.545.1";
    let study = json!({"accession": "SROUT1", "study_uid": study_uid, "patient": "PSEUDO-5",
        "patient_name": "Sim-Visser^Eva", "patient_sex": "F", "patient_age_years": 61,
        "modality": "CT", "procedure_code": "CTPA", "body_part": "CHEST", "priority": "routine",
        "site": "main", "ordering_department": "ED",
        "acquired_at": chrono::Utc::now().to_rfc3339()});
    let r = call(
        "POST",
        &u("/api/v1/studies"),
        Some(&key),
        None,
        Some(&study),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let result = json!({"id": "ai-srout-1", "app": "pe-detect", "app_version": "3.2.0",
        "accession": "SROUT1", "received_at": chrono::Utc::now().to_rfc3339(),
        "findings": [{"code": "pulmonary_embolism", "score": 0.91}]});
    let r = call(
        "POST",
        &u("/api/v1/ai-results"),
        Some(&key),
        None,
        Some(&result),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    // The same result again owes the PACS nothing new.
    let r = call(
        "POST",
        &u("/api/v1/ai-results"),
        Some(&key),
        None,
        Some(&result),
    );
    assert_eq!(r.status, 200, "{}", r.body);

    let file = first_file(&pacs_dir, "the PACS never got the SR");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        std::fs::read_dir(&pacs_dir).unwrap().count(),
        1,
        "one report per result, none for the shadow application"
    );

    // A result that comes before its study is reported alone; the decision that uses it
    // when the study arrives is a report of its own, with the routing.
    let early = json!({"id": "ai-srout-early", "app": "pe-detect", "app_version": "3.2.0",
        "accession": "SROUT2", "received_at": chrono::Utc::now().to_rfc3339(),
        "findings": [{"code": "pulmonary_embolism", "score": 0.88}]});
    let r = call(
        "POST",
        &u("/api/v1/ai-results"),
        Some(&key),
        None,
        Some(&early),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let mut late = study.clone();
    late["accession"] = json!("SROUT2");
    late["study_uid"] = json!("1.2.826.0.1.3680043.10.545.2");
    let r = call("POST", &u("/api/v1/studies"), Some(&key), None, Some(&late));
    assert_eq!(r.status, 201, "{}", r.body);
    let deadline = Instant::now() + Duration::from_secs(30);
    let later: Vec<PathBuf> = loop {
        let files: Vec<PathBuf> = std::fs::read_dir(&pacs_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|f| *f != file)
            .collect();
        if files.len() >= 2 {
            break files;
        }
        assert!(Instant::now() < deadline, "the PACS got {files:?}");
        std::thread::sleep(Duration::from_millis(200));
    };
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(std::fs::read_dir(&pacs_dir).unwrap().count(), 3);
    pacs.kill().ok();
    pacs.wait().ok();
    let mut reports: Vec<serde_json::Value> = later
        .iter()
        .map(|f| py(READ_SR, &json!({"path": f})))
        .collect();
    reports.sort_by_key(|b| !b["notes"].as_object().unwrap().is_empty());
    let (alone, routed) = (&reports[0], &reports[1]);
    assert!(alone["notes"].as_object().unwrap().is_empty(), "{alone}");
    assert_eq!(
        routed["notes"]["Routing rule"], "ctpa-pe-positive",
        "{routed}"
    );
    for b in [alone, routed] {
        assert_eq!(b["accession"], "SROUT2");
        assert_eq!(b["groups"][0]["score"], 0.88);
    }
    assert_ne!(alone["sop"], routed["sop"], "two reports, two instances");

    dciodvfy_accepts(&file);
    // dcmtk reads it as an SR document.
    let dump = dcmtk("dsrdump", &[file.to_str().unwrap()]);
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let dump = String::from_utf8_lossy(&dump.stdout);
    assert!(dump.contains("Imaging Measurement Report"), "{dump}");
    assert!(dump.contains("Simulated PE Detector"), "{dump}");
    // highdicom reads back what radgate knows.
    let back = py(READ_SR, &json!({"path": file}));
    assert_eq!(back["template"], "1500");
    assert_eq!(back["modality"], "SR");
    assert_eq!(back["study"], study_uid);
    assert_eq!(back["accession"], "SROUT1");
    let groups = back["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{back}");
    let g = &groups[0];
    assert_eq!(g["finding"], json!(["SCT", "59282003"]));
    assert_eq!(g["score"], 0.91);
    assert_eq!(g["score_concept"], json!(["DCM", "122157"]));
    assert_eq!(g["unit"], "1");
    assert_eq!(g["call"], "Present", "0.91 is above the operating point");
    assert_eq!(g["algorithm"], json!(["Simulated PE Detector", "3.2.0"]));
    assert_eq!(back["notes"]["Routing rule"], "ctpa-pe-positive", "{back}");
    assert_eq!(back["notes"]["Routing priority"], "stat");
    assert!(
        back["notes"]["Routing policy version"]
            .as_str()
            .is_some_and(|v| !v.is_empty())
    );
    // radgate reads its own report as it reads an AI node's.
    let r = call(
        "GET",
        &u("/api/v1/studies/SROUT1/decision"),
        Some(&key),
        None,
        None,
    );
    assert_eq!(r.body["rule"], "ctpa-pe-positive");
}

/// Issue 14, item 4: DICOMweb for the AI node, with dicomweb-client: QIDO-RS finds the
/// study owed to the node's application, its series and their instances, WADO-RS brings its
/// images (RAD-16), a series' or one instance, and STOW-RS
/// takes back a highdicom report, which routes the study as a C-STORE one does; another
/// vendor's key finds nothing, retrieves nothing and stores nothing.
#[test]
fn an_ai_node_finds_fetches_and_answers_over_dicomweb() {
    for (n, db) in databases("dicomweb").into_iter().enumerate() {
        let storage = tmp(&format!("dicomweb-storage-{n}"));
        let s = receiver(&db, &storage, "1", &[]);
        let key = provision_people(&db);
        let node_key = support::http::api_key(&db, "pe-node", "ai:pe-detect");
        let other_key = support::http::api_key(&db, "ich-node", "ai:ich-detect");
        let u = |p: &str| format!("{}{p}", s.url);
        let acc = format!("WEB{n}");
        let order = json!({"accession": acc, "patient": "PSEUDO-77", "procedure_code": "CTPA",
            "modality": "CT", "priority": "routine", "ordering_department": "SEH",
            "ordered_at": chrono::Utc::now().to_rfc3339(), "status": "placed"});
        let r = call("POST", &u("/api/v1/orders"), Some(&key), None, Some(&order));
        assert_eq!(r.status, 201, "{}", r.body);
        let study = format!("1.2.826.0.1.3680043.10.547.{n}");
        let images = tmp(&format!("dicomweb-images-{n}"));
        py(
            GENERATE,
            &json!({"dir": images, "study": study, "accession": acc,
                "series": [[format!("{study}.1"), 2]]}),
        );
        storescu("MODALITY1", &s.dicom.clone().unwrap(), &images);
        let before = wait_for_decision(&s.url, &key, &acc);
        assert_ne!(before["rule"], "ctpa-pe-positive");

        let out = py(
            DICOMWEB_NODE,
            &json!({"base": s.url, "key": node_key, "other_key": other_key, "accession": acc}),
        );
        assert_eq!(out["found"], 1, "{out}");
        assert_eq!(out["study"], study.as_str());
        assert_eq!(out["instances_listed"], 2);
        assert_eq!(
            out["retrieved"],
            json!([format!("{study}.1.1"), format!("{study}.1.2")])
        );
        assert_eq!(out["series"], json!([[format!("{study}.1"), 2]]), "{out}");
        assert_eq!(
            (&out["series_ct"], &out["series_mr"]),
            (&json!(1), &json!(0))
        );
        assert_eq!(
            out["instances"],
            json!([format!("{study}.1.1"), format!("{study}.1.2")])
        );
        assert_eq!(out["instance_found"], 1, "{out}");
        assert_eq!(out["instance_retrieved"], format!("{study}.1.2"));
        assert_eq!(out["stored"], json!([out["sr"].clone()]), "{out}");
        assert_eq!(out["other_found"], 0, "{out}");
        assert_eq!(out["other_retrieve"], 404, "{out}");
        assert_eq!(out["other_series"], 404, "{out}");
        assert_eq!(out["other_store"], 409, "{out}");
        // The segmentations are linked to the study, the first to pe-detect.
        let objects = call(
            "GET",
            &u(&format!("/api/v1/studies/{acc}/ai-objects")),
            Some(&key),
            None,
            None,
        )
        .body;
        let mut linked: Vec<(String, String)> = objects
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                assert_eq!(o["kind"], "segmentation", "{o}");
                (
                    o["sop_uid"].as_str().unwrap().to_owned(),
                    o["app"].to_string(),
                )
            })
            .collect();
        // Sent together, they may share a millisecond: compare without their order.
        linked.sort();
        let mut want = vec![
            (
                out["segs"][0].as_str().unwrap().to_owned(),
                "\"pe-detect\"".to_owned(),
            ),
            (
                out["segs"][1].as_str().unwrap().to_owned(),
                "null".to_owned(),
            ),
        ];
        want.sort();
        assert_eq!(linked, want, "{objects}");
        // The stored report was read into pe-detect's result and routed the study.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let d = wait_for_decision(&s.url, &key, &acc);
            if d["rule"] == "ctpa-pe-positive" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "never routed by the STOW-RS report: {d}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}
