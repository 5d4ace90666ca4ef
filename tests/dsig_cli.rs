//! `kanta-sim c14n` and `kanta-sim dsig verify|sign` as a supplier runs them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kanta-sim"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

struct Setup {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    kit: PathBuf,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_owned();
    let kit = dir.join("kit");
    assert!(
        run(&["certs", "init", "--out", kit.to_str().unwrap()])
            .status
            .success()
    );
    Setup {
        _tmp: tmp,
        dir,
        kit,
    }
}

fn signed(s: &Setup, role: &str, kind: &str) -> PathBuf {
    let doc = s.dir.join("doc.xml");
    let sample = run(&["sample-document"]);
    std::fs::write(&doc, &sample.stdout).unwrap();
    let signed = s.dir.join(format!("signed-{kind}.xml"));
    let o = run(&[
        "dsig",
        "sign",
        "--certs",
        s.kit.to_str().unwrap(),
        "--role",
        role,
        "--type",
        kind,
        doc.to_str().unwrap(),
        "--out",
        signed.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", out(&o));
    signed
}

fn verify(s: &Setup, file: &Path) -> Output {
    run(&[
        "dsig",
        "verify",
        "--trust",
        s.kit.to_str().unwrap(),
        file.to_str().unwrap(),
    ])
}

#[test]
fn sign_then_verify_with_the_explanation() {
    let s = setup();
    for (role, kind, label) in [
        (
            "system-signature:1.2.246.10.99900032.10.0",
            "system",
            "3 (system signature)",
        ),
        (
            "professional:99900000029",
            "professional",
            "1 (professional signature)",
        ),
    ] {
        let f = signed(&s, role, kind);
        let o = verify(&s, &f);
        let t = out(&o);
        assert_eq!(o.status.code(), Some(0), "{t}");
        for needle in [
            label,
            "SignedInfo:    exc-c14n",
            "canonical:",
            "stated",
            "computed",
            "OK",
            "verdict:       VALID",
            "All signatures verify.",
        ] {
            assert!(t.contains(needle), "missing {needle:?}:\n{t}");
        }
    }
}

#[test]
fn tampered_and_wrapped_documents_fail_with_codes_and_exit_3() {
    let s = setup();
    let f = signed(&s, "system-signature:1.2.246.10.99900016.10.0", "system");
    let xml = std::fs::read_to_string(&f).unwrap();
    let i = xml.find("representation=\"B64\">").unwrap() + 30;
    let mut b = xml.clone().into_bytes();
    b[i] = if b[i] == b'Q' { b'R' } else { b'Q' };
    let tampered = s.dir.join("tampered.xml");
    std::fs::write(&tampered, b).unwrap();
    let o = verify(&s, &tampered);
    let t = out(&o);
    assert_eq!(o.status.code(), Some(3), "{t}");
    assert!(
        t.contains("G-008")
            && t.contains("MISMATCH")
            && t.contains("stated")
            && t.contains("computed"),
        "{t}"
    );

    // Moved body.
    let start = xml.find("<component>").unwrap();
    let end = xml.find("</component>").unwrap() + "</component>".len();
    let original = &xml[start..end];
    let moved = original
        .replace("<component>", "<hl7fi:x>")
        .replace("</component>", "</hl7fi:x>");
    let wrapped = xml
        .replacen(
            original,
            "<component><nonXMLBody><text>RVZJTA==</text></nonXMLBody></component>",
            1,
        )
        .replacen(
            "</hl7fi:localSocialHeader>",
            &format!("{moved}</hl7fi:localSocialHeader>"),
            1,
        );
    let wf = s.dir.join("wrapped.xml");
    std::fs::write(&wf, wrapped).unwrap();
    let o = verify(&s, &wf);
    let t = out(&o);
    assert_eq!(o.status.code(), Some(3), "{t}");
    assert!(t.contains("G-015") && t.contains("G-013"), "{t}");
    // --no-kanta-rule shows that plain XMLDSig alone would accept it.
    let o = run(&[
        "dsig",
        "verify",
        "--no-kanta-rule",
        "--trust",
        s.kit.to_str().unwrap(),
        wf.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
}

#[test]
fn a_message_carrying_the_cda_is_verified_through_its_mime_part() {
    let s = setup();
    let f = signed(&s, "system-signature:1.2.246.10.99900016.10.0", "system");
    let cda = std::fs::read(&f).unwrap();
    let mime = kanta_sim::message::mime::encode_related(
        &cda,
        "1.2.246.10.99900016.10.0.20260001",
        "----=_Part_1_kanta_sim",
    );
    let escaped = mime
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let message = format!(
        "<RCMR_IN200002FI01 xmlns=\"urn:hl7-org:v3\" ITSVersion=\"XML_1.0\"><controlActProcess classCode=\"CACT\" moodCode=\"EVN\">\
         <subject><clinicalDocument classCode=\"DOCCLIN\" moodCode=\"EVN\"><text mediaType=\"multipart/related\">{escaped}</text>\
         </clinicalDocument></subject></controlActProcess></RCMR_IN200002FI01>"
    );
    let mf = s.dir.join("message.xml");
    std::fs::write(&mf, &message).unwrap();
    let o = verify(&s, &mf);
    let t = out(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(
        t.contains("Content-ID 1.2.246.10.99900016.10.0.20260001") && t.contains("Kanta CDA"),
        "{t}"
    );

    let broken = message.replacen(
        "Content-Transfer-Encoding: BASE64",
        "Content-Transfer-Encoding: quoted-printable",
        1,
    );
    std::fs::write(&mf, broken).unwrap();
    let o = verify(&s, &mf);
    assert_eq!(o.status.code(), Some(3));
    assert!(out(&o).contains("M-006"), "{}", out(&o));
}

#[test]
fn c14n_command_equals_xmllint_and_selects_by_id() {
    let s = setup();
    let input = "<n0:local xmlns:n0=\"foo:bar\" xmlns:n3=\"ftp://example.org\"><!-- note -->\n  <n1:elem2 xmlns:n1=\"http://example.net\" xml:lang=\"en\" ID=\"e2\">\n    <n3:stuff xmlns:n3=\"ftp://example.org\" b=\"&amp;\" a=\"&#9;\"/>\n  </n1:elem2>\n</n0:local>";
    let f = s.dir.join("ns.xml");
    std::fs::write(&f, input).unwrap();
    let p = f.to_str().unwrap();
    for (ours, theirs) in [
        (vec!["c14n", "--inclusive", "--with-comments", p], "--c14n"),
        (
            vec!["c14n", "--exclusive", "--with-comments", p],
            "--exc-c14n",
        ),
    ] {
        let o = run(&ours);
        assert!(o.status.success(), "{}", out(&o));
        match Command::new("xmllint").args([theirs, p]).output() {
            Ok(x) => assert_eq!(
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&x.stdout),
                "{theirs}"
            ),
            Err(e) => assert!(
                std::env::var_os("CI").is_none(),
                "xmllint is required in CI: {e}"
            ),
        }
    }
    let o = run(&["c14n", "--id", "e2", p]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "<n1:elem2 xmlns:n1=\"http://example.net\" ID=\"e2\" xml:lang=\"en\">\n    <n3:stuff xmlns:n3=\"ftp://example.org\" a=\"&#x9;\" b=\"&amp;\"></n3:stuff>\n  </n1:elem2>"
    );
    let o = run(&["c14n", "--exclusive", "--prefixes", "n0", "--id", "e2", p]);
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with("<n1:elem2 xmlns:n0=\"foo:bar\" xmlns:n1="),
        "{}",
        out(&o)
    );
    let o = run(&["c14n", "--id", "nope", p]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        out(&o).contains("G-005") || out(&o).contains("matches no element"),
        "{}",
        out(&o)
    );
    std::fs::write(&f, "<!DOCTYPE x [<!ENTITY e \"x\">]><x>&e;</x>").unwrap();
    let o = run(&["c14n", p]);
    assert_eq!(o.status.code(), Some(2));
    assert!(out(&o).contains("DTD"), "{}", out(&o));
}

#[test]
fn validate_reports_findings_by_class_and_exits_by_verdict() {
    let s = setup();
    let good = s.dir.join("good.xml");
    std::fs::copy(
        signed(&s, "system-signature:1.2.246.10.99900016.10.0", "system"),
        &good,
    )
    .unwrap();
    let o = run(&[
        "validate",
        "--trust",
        s.kit.to_str().unwrap(),
        good.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(out(&o).contains("PASSED"));

    // Signed by another organisation's system certificate.
    let foreign = signed(&s, "system-signature:1.2.246.10.99900024.10.0", "system");
    let broken = s.dir.join("broken.xml");
    let xml = std::fs::read_to_string(&foreign).unwrap().replacen(
        "<versionNumber value=\"1\"/>",
        "<versionNumber value=\"one\"/>",
        1,
    );
    std::fs::write(&broken, xml).unwrap();
    let o = run(&[
        "validate",
        "--trust",
        s.kit.to_str().unwrap(),
        good.to_str().unwrap(),
        broken.to_str().unwrap(),
    ]);
    let t = out(&o);
    assert_eq!(o.status.code(), Some(3), "{t}");
    // versionNumber is outside the signed body: the signature itself still verifies.
    for needle in [
        "FAILED",
        "H: header",
        "H-004",
        "/ClinicalDocument/versionNumber",
        "G: signatures",
        "G-016",
        "PASSED",
    ] {
        assert!(t.contains(needle), "missing {needle:?}:\n{t}");
    }
    let o = run(&[
        "validate",
        "--json",
        "--trust",
        s.kit.to_str().unwrap(),
        broken.to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["passed"], false);
    assert!(
        v["validation"]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "G-016")
    );
}
