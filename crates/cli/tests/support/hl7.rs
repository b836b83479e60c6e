//! HL7 v2 peers for the tests: python-hl7 (PyPI `hl7`) as the RIS that sends.

use serde_json::Value;

/// Sends each message with python-hl7's MLLP client and parses each ACK with its parser:
/// `[{"msa": [code, control id], "err": [segment, sequence, field, code, text] | null}]`.
const RIS: &str = r#"
import json, sys
import hl7
from hl7.client import MLLPClient

inp = json.load(sys.stdin)
host, port = inp["mllp"].rsplit(":", 1)
out = []
with MLLPClient(host, int(port)) as client:
    for text in inp["messages"]:
        raw = client.send_message(text)
        raw = raw.decode() if isinstance(raw, bytes) else raw
        ack = hl7.parse(raw.strip("\x0b\x1c\r\n"))
        msa = ack.segment("MSA")
        err = None
        try:
            e = ack.segment("ERR")
            err = [str(e[2][0][0]), str(e[2][0][1]), str(e[2][0][2]), str(e[3][0][0]), str(e[8])]
        except KeyError:
            pass
        out.append({"msa": [str(msa[1]), str(msa[2])], "err": err,
                    "to": str(ack.segment("MSH")[5]), "type": str(ack.segment("MSH")[9])})
print(json.dumps(out))
"#;

pub fn ris(mllp: &str, messages: &[String]) -> Vec<Value> {
    let acks = super::python_json(
        RIS,
        &serde_json::json!({ "mllp": mllp, "messages": messages }),
    );
    acks.as_array().unwrap().clone()
}
