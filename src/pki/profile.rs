//! What `certs init` generates: names, key types, lifetimes. `certs/PROFILE.md` is written
//! from here (`kanta-sim certs profile`), so the documented profile cannot drift from the
//! code.

use std::fmt::Write as _;

/// Key algorithm of the generated keys. Real Kanta certificates are RSA.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum KeyAlgorithm {
    /// RSA 2048 bits, the smallest size DVV issues.
    Rsa2048,
    /// RSA 3072 bits, as on professional cards.
    Rsa3072,
    /// RSA 4096 bits, as on DVV system-signature certificates.
    Rsa4096,
    /// ECDSA on NIST P-256.
    EcdsaP256,
    /// ECDSA on NIST P-384, as in DVV's ECC hierarchy.
    EcdsaP384,
}

impl KeyAlgorithm {
    /// The command-line spelling.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rsa2048 => "rsa2048",
            Self::Rsa3072 => "rsa3072",
            Self::Rsa4096 => "rsa4096",
            Self::EcdsaP256 => "ecdsa-p256",
            Self::EcdsaP384 => "ecdsa-p384",
        }
    }
}

/// Names of the fictional CA hierarchy. They mirror the DN layout of the DVV TEST CAs
/// (interface.md §4.3) with names nobody can mistake for DVV's.
pub const CA_ORGANISATION: &str = "KANTA-SIM Simuloitu varmenneviranomainen TEST";
/// Root CA common name.
pub const ROOT_CA_CN: &str = "KANTA-SIM TEST Root CA";
/// Root CA organisational unit.
pub const ROOT_CA_OU: &str = "Varmennepalvelut";
/// Issuing CA for service certificates (server, client, system signature).
pub const SERVICE_CA_CN: &str = "KANTA-SIM TEST Social Welfare and Healthcare Service Certs";
/// OU of the service CA, as DVV's `Sosiaali- ja terveydenhuollon testipalveluvarmenteet`.
pub const SERVICE_CA_OU: &str = "Sosiaali- ja terveydenhuollon testipalveluvarmenteet";
/// Issuing CA for professional certificates.
pub const PROF_CA_CN: &str = "KANTA-SIM TEST Social Welfare and Healthcare Prof. Certs";
/// OU of the professional CA, as DVV's `… testiammattivarmenteet`.
pub const PROF_CA_OU: &str = "Sosiaali- ja terveydenhuollon testiammattivarmenteet";
/// The rogue root that issues `bad:unknown-issuer`.
pub const ROGUE_ROOT_CN: &str = "KANTA-SIM ROGUE Root CA (not trusted)";
/// The archive's own server certificate CN.
pub const SERVER_CN: &str = "kanta-sim archive (simulated Kanta connection point)";
/// CN of system-signature certificates (the real samples say `Potilastietojärjestelmä`).
pub const SYSTEM_SIGNATURE_CN: &str = "Asiakastietojärjestelmä";

/// Lifetimes, in days.
pub const ROOT_DAYS: i64 = 3650;
/// Issuing CAs.
pub const CA_DAYS: i64 = 3650;
/// Server and TLS client certificates: DVV issues at most one year.
pub const SERVER_DAYS: i64 = 365;
/// System-signature certificates: DVV issues at most two years.
pub const SYSTEM_SIGNATURE_DAYS: i64 = 730;
/// Professional cards (the sample card is valid five years).
pub const PROFESSIONAL_DAYS: i64 = 1826;
/// How long the generated CRL stays current.
pub const CRL_DAYS: i64 = 365;

/// A fictional social-welfare professional with a Valvira-style registration number.
#[derive(Debug, Clone, Copy)]
pub struct Professional {
    /// 11 digits; the `999` prefix marks them as fictional.
    pub registration_number: &'static str,
    /// Given name.
    pub given_name: &'static str,
    /// Surname.
    pub surname: &'static str,
    /// Title as on a DVV card: code, Finnish, Swedish.
    pub title: &'static str,
    /// The organisation the professional works for.
    pub organisation: &'static str,
}

/// The professionals of the kit.
pub const PROFESSIONALS: [Professional; 2] = [
    Professional {
        registration_number: "99900000011",
        given_name: "Tuula",
        surname: "Testinen",
        title: "251 sosionomi, socionom",
        organisation: "1.2.246.10.99900016.10.0",
    },
    Professional {
        registration_number: "99900000029",
        given_name: "Veikko",
        surname: "Kokeilija",
        title: "250 sosiaalityöntekijä, socialarbetare",
        organisation: "1.2.246.10.99900024.10.0",
    },
];

/// The organisation that the `bad:unregistered-org` certificate names: a valid Y-tunnus
/// (9990005-9) that the bundled register does not list.
pub const UNREGISTERED_ORG_OID: &str = "1.2.246.10.99900059.10.0";
/// Its name.
pub const UNREGISTERED_ORG_NAME: &str = "Rekisteröimätön Palvelu Oy";

/// One line per negative-kit certificate: role, what is wrong, what the archive must say.
pub const NEGATIVE_KIT: [(&str, &str); 8] = [
    (
        "bad:expired",
        "TLS client certificate whose validity ended yesterday",
    ),
    (
        "bad:not-yet-valid",
        "TLS client certificate valid only from 30 days ahead",
    ),
    ("bad:revoked", "TLS client certificate listed in crl.pem"),
    (
        "bad:unknown-issuer",
        "TLS client certificate issued by a rogue root that is not trusted",
    ),
    (
        "bad:server-auth-only",
        "certificate whose extended key usage is serverAuth only",
    ),
    (
        "bad:unregistered-org",
        "valid certificate for an organisation the SOTE register does not list",
    ),
    (
        "bad:weak-key",
        "TLS client certificate with an RSA 1024-bit key",
    ),
    (
        "bad:inactive-org",
        "valid certificate for an organisation the register marks inactive",
    ),
];

/// The documented profile as Markdown (kept in `certs/PROFILE.md`).
pub fn profile_markdown() -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# What `kanta-sim certs init` generates\n");
    let _ = writeln!(
        s,
        "This file is written by `kanta-sim certs profile`; edit `src/pki/profile.rs`, not this file.\n\n\
         All names are fictional look-alikes of the DVV TEST hierarchy (interface.md §4.3, process.md §4). \
         No real DVV key material is ever used. Keys are RSA 2048 by default (`--key rsa3072|rsa4096|ecdsa-p256|ecdsa-p384`); \
         RSA certificates are signed with sha512WithRSAEncryption like DVV's.\n"
    );
    let _ = writeln!(
        s,
        "| role | file | issuer | subject layout | key usage / EKU | lifetime |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    let rows: [(&str, &str, &str, String, &str, String); 8] = [
        ("root-ca", "root-ca.pem", "self", format!("C=FI, O={CA_ORGANISATION}, OU={ROOT_CA_OU}, CN={ROOT_CA_CN}"), "keyCertSign, cRLSign", format!("{ROOT_DAYS} d")),
        ("service-ca", "service-ca.pem", "root", format!("C=FI, O={CA_ORGANISATION}, OU={SERVICE_CA_OU}, CN={SERVICE_CA_CN}"), "keyCertSign, cRLSign", format!("{CA_DAYS} d")),
        ("professional-ca", "professional-ca.pem", "root", format!("C=FI, O={CA_ORGANISATION}, OU={PROF_CA_OU}, CN={PROF_CA_CN}"), "keyCertSign, cRLSign", format!("{CA_DAYS} d")),
        ("server", "server.pem", "service CA", format!("C=FI, O=KANTA-SIM, CN={SERVER_CN}; SAN localhost, 127.0.0.1, ::1"), "digitalSignature, keyEncipherment / serverAuth", format!("{SERVER_DAYS} d")),
        ("server:expired, server:revoked", "server-expired.pem, server-revoked.pem", "service CA", "as server; for the fault plan's expired-server-cert and revoked-server-cert (the revoked one is in crl.pem)".to_owned(), "digitalSignature, keyEncipherment / serverAuth", "expired a day ago; as server".to_owned()),
        ("client:<org OID>", "client-<org>.pem", "service CA", "C=FI, ST=Finland, L=<municipality>, O=<organisation>, serialNumber=<org OID>, CN=<host>.sote.kanta-sim.test; SAN DNS".to_owned(), "digitalSignature, keyEncipherment / clientAuth, serverAuth", format!("{SERVER_DAYS} d")),
        ("system-signature:<org OID>", "system-signature-<org>.pem", "service CA", format!("C=FI, ST=Finland, L=<municipality>, O=<organisation>, serialNumber=<org OID>, CN={SYSTEM_SIGNATURE_CN}"), "critical digitalSignature, nonRepudiation", format!("{SYSTEM_SIGNATURE_DAYS} d")),
        ("professional:<registration number>", "professional-<number>.pem", "professional CA", "C=FI, title=<title>, serialNumber=<registration number>, GN=<given>, SN=<surname>, CN=<surname> <given> <number>".to_owned(), "critical nonRepudiation", format!("{PROFESSIONAL_DAYS} d")),
    ];
    for (role, file, issuer, subject, usage, life) in rows {
        let _ = writeln!(
            s,
            "| `{role}` | `{file}` | {issuer} | {subject} | {usage} | {life} |"
        );
    }
    let _ = writeln!(
        s,
        "| `crl` | `crl.pem` | service CA | lists the serial of `bad:revoked` | | {CRL_DAYS} d |"
    );
    let _ = writeln!(
        s,
        "\nOrganisations come from the bundled mock SOTE register (`data/sote-register.toml`); an organisation \
        marked inactive gets `bad:inactive-org` instead of `client:`.\n\nProfessionals:\n"
    );
    for p in PROFESSIONALS {
        let _ = writeln!(
            s,
            "- `{}` {} {}, {} ({})",
            p.registration_number, p.given_name, p.surname, p.title, p.organisation
        );
    }
    let _ = writeln!(s, "\n## Negative kit\n\n| role | defect |\n|---|---|");
    for (role, what) in NEGATIVE_KIT {
        let _ = writeln!(s, "| `{role}` | {what} |");
    }
    let _ = writeln!(
        s,
        "\nThe rogue root that issues `bad:unknown-issuer` is written as `rogue-root-ca.pem` (role `rogue-root-ca`) so that \
         tools can show what an untrusted chain looks like. Certificate files hold the leaf followed by its issuing CA \
         (what a client sends); key files are PKCS#8 PEM, readable by the owner only.\n\n\
         Not mirrored (unknown or not needed, see docs): DVV certificate policy OIDs, CRL distribution points, \
         AIA/OCSP URLs and qcStatements."
    );
    s
}
