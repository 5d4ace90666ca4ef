//! `kanta-sim certs init`: the whole test PKI in one go, good and bad certificates alike.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, DnValue, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    RevocationReason, RevokedCertParams, SanType, SerialNumber, SubjectPublicKeyInfo,
};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use time::{Duration, OffsetDateTime};

use super::index::{Artefact, INDEX_JSON, INDEX_MD, Index};
use super::inspect::CertInfo;
use super::profile::*;
use crate::identity::{Organisation, SoteRegister};

/// What to generate and where.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Output directory.
    pub out: PathBuf,
    /// Replace an existing kit.
    pub force: bool,
    /// Key algorithm for every key but the deliberately weak one.
    pub key: KeyAlgorithm,
    /// The clock: validity periods are computed from it.
    pub now: OffsetDateTime,
    /// Organisations to issue certificates for.
    pub register: SoteRegister,
}

impl GenerateOptions {
    /// RSA 2048 keys, the current time and the bundled register; no overwriting.
    pub fn new(out: PathBuf) -> Result<Self, crate::identity::RegisterError> {
        Ok(Self {
            out,
            force: false,
            key: KeyAlgorithm::Rsa2048,
            now: OffsetDateTime::now_utc(),
            register: SoteRegister::bundled()?,
        })
    }
}

/// Why generation failed. Nothing is left half-written: the kit is built in a sibling
/// directory and moved into place only when complete.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// The directory already holds a kit.
    #[error("{0} already holds a certificate kit (INDEX.json); pass --force to replace it")]
    Exists(PathBuf),
    /// The directory holds something else.
    #[error(
        "{0} exists and is not a kanta-sim certificate kit; refusing to replace it even with --force"
    )]
    NotAKit(PathBuf),
    /// File system trouble.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Key generation or certificate encoding failed.
    #[error("generating {what}: {source}")]
    Crypto {
        /// Which artefact.
        what: String,
        /// The library's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// What the kit is made from cannot make one.
    #[error("generating {what}: {why}")]
    Impossible {
        /// Which artefact.
        what: String,
        /// Why.
        why: &'static str,
    },
}

fn crypto<E: std::error::Error + Send + Sync + 'static>(
    what: &str,
) -> impl Fn(E) -> GenerateError + '_ {
    move |e| GenerateError::Crypto {
        what: what.to_owned(),
        source: Box::new(e),
    }
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl Fn(std::io::Error) -> GenerateError + 'a {
    move |source| GenerateError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// A random positive serial of 16 bytes, like DVV's long serials.
fn serial() -> SerialNumber {
    let mut b = [0u8; 16];
    // The system RNG only fails when the OS has no entropy source at all; a constant
    // serial would still give a usable (if less realistic) kit, so fall back silently.
    let _ = aws_lc_rs::rand::fill(&mut b);
    b[0] = (b[0] & 0x7f) | 0x01;
    SerialNumber::from_slice(&b)
}

fn gen_key(alg: KeyAlgorithm) -> Result<KeyPair, rcgen::Error> {
    match alg {
        KeyAlgorithm::Rsa2048 => {
            KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA512, rcgen::RsaKeySize::_2048)
        }
        KeyAlgorithm::Rsa3072 => {
            KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA512, rcgen::RsaKeySize::_3072)
        }
        KeyAlgorithm::Rsa4096 => {
            KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA512, rcgen::RsaKeySize::_4096)
        }
        KeyAlgorithm::EcdsaP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        KeyAlgorithm::EcdsaP384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
    }
}

/// Generates `n` keys on all cores: RSA key generation dominates the run time.
fn gen_keys(alg: KeyAlgorithm, n: usize) -> Result<Vec<KeyPair>, GenerateError> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |p| p.get())
        .min(n.max(1));
    let per = n.div_ceil(threads);
    let results: Vec<Result<Vec<KeyPair>, rcgen::Error>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let count = per.min(n.saturating_sub(t * per));
                s.spawn(move || (0..count).map(|_| gen_key(alg)).collect())
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(rcgen::Error::RemoteKeyError) // a panicking key generator: report, do not propagate the panic
                })
            })
            .collect()
    });
    let mut keys = Vec::with_capacity(n);
    for r in results {
        keys.extend(r.map_err(crypto("keys"))?);
    }
    Ok(keys)
}

fn printable(s: &str) -> DnValue {
    rcgen::string::PrintableString::try_from(s)
        .map(DnValue::PrintableString)
        .unwrap_or_else(|_| DnValue::Utf8String(s.to_owned()))
}

const SERIAL_NUMBER: [u64; 4] = [2, 5, 4, 5];
const TITLE: [u64; 4] = [2, 5, 4, 12];
const GIVEN_NAME: [u64; 4] = [2, 5, 4, 42];
const SURNAME: [u64; 4] = [2, 5, 4, 4];

fn base_params(dn: DistinguishedName, not_before: OffsetDateTime, days: i64) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn;
    p.not_before = not_before;
    p.not_after = not_before + Duration::days(days);
    p.serial_number = Some(serial());
    p.use_authority_key_identifier_extension = true;
    p.key_identifier_method = KeyIdMethod::Sha256;
    p
}

fn ca_dn(ou: &str, cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, printable("FI"));
    dn.push(DnType::OrganizationName, CA_ORGANISATION);
    dn.push(DnType::OrganizationalUnitName, ou);
    dn.push(DnType::CommonName, cn);
    dn
}

fn ca_params(
    dn: DistinguishedName,
    now: OffsetDateTime,
    days: i64,
    path_len: Option<u8>,
) -> CertificateParams {
    let mut p = base_params(dn, now - Duration::days(1), days);
    p.is_ca = IsCa::Ca(path_len.map_or(
        BasicConstraints::Unconstrained,
        BasicConstraints::Constrained,
    ));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p
}

fn org_dn(name: &str, oid: &str, municipality: Option<&str>, cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, printable("FI"));
    dn.push(DnType::StateOrProvinceName, "Finland");
    if let Some(m) = municipality {
        dn.push(DnType::LocalityName, m);
    }
    dn.push(DnType::OrganizationName, name);
    dn.push(DnType::CustomDnType(SERIAL_NUMBER.to_vec()), printable(oid));
    dn.push(DnType::CommonName, cn);
    dn
}

/// Lower-case ASCII host label from an organisation name (`Testilän X` → `testilan-x`).
fn slug(name: &str) -> String {
    let mut s = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        let c = match c {
            'ä' | 'å' | 'á' => 'a',
            'ö' | 'ó' => 'o',
            'é' => 'e',
            c if c.is_ascii_alphanumeric() => c,
            _ => '-',
        };
        if !(c == '-' && (s.is_empty() || s.ends_with('-'))) {
            s.push(c);
        }
    }
    s.trim_end_matches('-').to_owned()
}

fn tls_client_params(
    name: &str,
    oid: &str,
    municipality: Option<&str>,
    not_before: OffsetDateTime,
    days: i64,
) -> Result<CertificateParams, GenerateError> {
    let host = format!("{}.sote.kanta-sim.test", slug(name));
    let mut p = base_params(org_dn(name, oid, municipality, &host), not_before, days);
    p.subject_alt_names = vec![SanType::DnsName(
        host.clone().try_into().map_err(crypto(&host))?,
    )];
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    p.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ClientAuth,
        ExtendedKeyUsagePurpose::ServerAuth,
    ];
    Ok(p)
}

/// Collects the files of the kit as they are made.
struct Kit {
    dir: PathBuf,
    artefacts: Vec<Artefact>,
}

impl Kit {
    fn write(&self, name: &str, contents: &str, private: bool) -> Result<(), GenerateError> {
        let path = self.dir.join(name);
        std::fs::write(&path, contents).map_err(io("writing", &path))?;
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .map_err(io("protecting", &path))?;
        }
        #[cfg(not(unix))]
        let _ = private;
        Ok(())
    }

    /// Writes a certificate (with its issuing CA appended, unless self-signed) and its key.
    #[expect(
        clippy::too_many_arguments,
        reason = "one call site per artefact kind; a struct would only rename the arguments"
    )]
    fn add(
        &mut self,
        role: &str,
        file: &str,
        der: &[u8],
        chain_pem: Option<&str>,
        key_pem: Option<&str>,
        organisation: Option<&str>,
        description: &str,
    ) -> Result<(), GenerateError> {
        let info = CertInfo::from_der(der).map_err(crypto(role))?;
        let mut pem = pem_cert(der);
        if let Some(chain) = chain_pem {
            pem.push_str(chain);
        }
        self.write(&format!("{file}.pem"), &pem, false)?;
        let key = match key_pem {
            Some(k) => {
                self.write(&format!("{file}.key.pem"), k, true)?;
                Some(format!("{file}.key.pem"))
            }
            None => None,
        };
        self.artefacts.push(Artefact {
            role: role.to_owned(),
            cert: format!("{file}.pem"),
            key,
            subject: Some(info.subject),
            issuer: info.issuer,
            not_before: info.not_before,
            not_after: info.not_after,
            sha256: info.sha256,
            serial: Some(info.serial),
            organisation: organisation.map(str::to_owned),
            description: description.to_owned(),
        });
        Ok(())
    }
}

fn pem_cert(der: &[u8]) -> String {
    pem_block("CERTIFICATE", der)
}

fn pem_block(label: &str, der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new(label, der.to_vec()),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

/// Generates the whole kit into `opts.out`, returning its index.
pub fn generate_kit(opts: &GenerateOptions) -> Result<Index, GenerateError> {
    let out = &opts.out;
    if out.exists() {
        let has_index = out.join(INDEX_JSON).is_file();
        let empty = std::fs::read_dir(out)
            .map_err(io("reading", out))?
            .next()
            .is_none();
        if has_index && !opts.force {
            return Err(GenerateError::Exists(out.clone()));
        }
        if !has_index && !empty {
            return Err(GenerateError::NotAKit(out.clone()));
        }
    }
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io("creating", parent))?;
    let staging = parent.join(format!(
        ".{}.partial-{}",
        out.file_name().and_then(|n| n.to_str()).unwrap_or("certs"),
        std::process::id()
    ));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io("removing", &staging))?;
    }
    std::fs::create_dir_all(&staging).map_err(io("creating", &staging))?;
    let result = build(opts, &staging);
    match result {
        Ok(index) => {
            if out.exists() {
                std::fs::remove_dir_all(out).map_err(io("replacing", out))?;
            }
            std::fs::rename(&staging, out).map_err(io("moving the kit into", out))?;
            Ok(index)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            Err(e)
        }
    }
}

fn build(opts: &GenerateOptions, dir: &Path) -> Result<Index, GenerateError> {
    let now = opts.now;
    let active: Vec<&Organisation> = opts
        .register
        .organisations()
        .iter()
        .filter(|o| o.active)
        .collect();
    let inactive: Vec<&Organisation> = opts
        .register
        .organisations()
        .iter()
        .filter(|o| !o.active)
        .collect();
    let first = active
        .first()
        .copied()
        .ok_or_else(|| GenerateError::Impossible {
            what: "organisation certificates".into(),
            why: "the register lists no active organisation",
        })?;
    // 4 CAs, the server and its two alternates, 2 per active organisation, 1 per inactive
    // one, the professionals and six bad certificates (the weak one gets its own RSA 1024
    // key).
    let n = 7 + 2 * active.len() + inactive.len() + PROFESSIONALS.len() + 6;
    let mut keys = gen_keys(opts.key, n)?.into_iter();
    let mut next_key = || {
        keys.next().ok_or_else(|| GenerateError::Impossible {
            what: "keys".into(),
            why: "fewer keys than certificates (generator bug)",
        })
    };
    let mut kit = Kit {
        dir: dir.to_owned(),
        artefacts: Vec::new(),
    };

    // Root and issuing CAs.
    let root_key = next_key()?;
    let root_params = ca_params(ca_dn(ROOT_CA_OU, ROOT_CA_CN), now, ROOT_DAYS, Some(1));
    let root_cert = root_params
        .self_signed(&root_key)
        .map_err(crypto("root CA"))?;
    kit.add(
        "root-ca",
        "root-ca",
        root_cert.der(),
        None,
        Some(&root_key.serialize_pem()),
        None,
        "trust anchor of the kit; configure it as the archive's client-certificate trust anchor",
    )?;
    let root = Issuer::new(root_params, root_key);

    let service_key = next_key()?;
    let service_params = ca_params(ca_dn(SERVICE_CA_OU, SERVICE_CA_CN), now, CA_DAYS, Some(0));
    let service_cert = service_params
        .signed_by(&service_key, &root)
        .map_err(crypto("service CA"))?;
    kit.add(
        "service-ca",
        "service-ca",
        service_cert.der(),
        None,
        Some(&service_key.serialize_pem()),
        None,
        "issues server, TLS client and system-signature certificates",
    )?;
    let service_pem = pem_cert(service_cert.der());
    let service = Issuer::new(service_params, service_key);

    let prof_key = next_key()?;
    let prof_params = ca_params(ca_dn(PROF_CA_OU, PROF_CA_CN), now, CA_DAYS, Some(0));
    let prof_cert = prof_params
        .signed_by(&prof_key, &root)
        .map_err(crypto("professional CA"))?;
    kit.add(
        "professional-ca",
        "professional-ca",
        prof_cert.der(),
        None,
        Some(&prof_key.serialize_pem()),
        None,
        "issues professional (card) certificates",
    )?;
    let prof_pem = pem_cert(prof_cert.der());
    let prof = Issuer::new(prof_params, prof_key);

    // The archive's server certificate, and two alternates a fault plan can serve
    // (`expired-server-cert`, `revoked-server-cert`) so that a client system's handling of a
    // certificate change gone wrong can be tested.
    let server_params =
        |not_before: OffsetDateTime, days: i64| -> Result<CertificateParams, GenerateError> {
            let mut dn = DistinguishedName::new();
            dn.push(DnType::CountryName, printable("FI"));
            dn.push(DnType::OrganizationName, "KANTA-SIM");
            dn.push(DnType::CommonName, SERVER_CN);
            let mut p = base_params(dn, not_before, days);
            p.subject_alt_names = vec![
                SanType::DnsName("localhost".try_into().map_err(crypto("server"))?),
                SanType::IpAddress([127, 0, 0, 1].into()),
                SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()),
            ];
            p.key_usages = vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyEncipherment,
            ];
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            Ok(p)
        };
    let server_key = next_key()?;
    let c = server_params(now - Duration::hours(1), SERVER_DAYS)?
        .signed_by(&server_key, &service)
        .map_err(crypto("server"))?;
    kit.add(
        "server",
        "server",
        c.der(),
        Some(&service_pem),
        Some(&server_key.serialize_pem()),
        None,
        "the archive's TLS server certificate (localhost, 127.0.0.1, ::1)",
    )?;
    let key = next_key()?;
    let c = server_params(now - Duration::days(366), 365)?
        .signed_by(&key, &service)
        .map_err(crypto("server:expired"))?;
    kit.add(
        "server:expired",
        "server-expired",
        c.der(),
        Some(&service_pem),
        Some(&key.serialize_pem()),
        None,
        "an expired server certificate the fault plan can serve (expired-server-cert)",
    )?;
    let key = next_key()?;
    let p = server_params(now - Duration::days(1), SERVER_DAYS)?;
    let revoked_server_serial = p.serial_number.clone();
    let c = p
        .signed_by(&key, &service)
        .map_err(crypto("server:revoked"))?;
    kit.add(
        "server:revoked",
        "server-revoked",
        c.der(),
        Some(&service_pem),
        Some(&key.serialize_pem()),
        None,
        "a revoked server certificate (in crl.pem) the fault plan can serve (revoked-server-cert)",
    )?;

    // Organisations.
    for org in &active {
        let s = slug(&org.name);
        let key = next_key()?;
        let p = tls_client_params(
            &org.name,
            &org.oid,
            org.municipality.as_deref(),
            now - Duration::hours(1),
            SERVER_DAYS,
        )?;
        let c = p.signed_by(&key, &service).map_err(crypto(&org.oid))?;
        kit.add(
            &format!("client:{}", org.oid),
            &format!("client-{s}"),
            c.der(),
            Some(&service_pem),
            Some(&key.serialize_pem()),
            Some(&org.oid),
            &format!("TLS client certificate of {} (connection point)", org.name),
        )?;

        let key = next_key()?;
        let mut p = base_params(
            org_dn(
                &org.name,
                &org.oid,
                org.municipality.as_deref(),
                SYSTEM_SIGNATURE_CN,
            ),
            now - Duration::hours(1),
            SYSTEM_SIGNATURE_DAYS,
        );
        p.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::ContentCommitment,
        ];
        let c = p.signed_by(&key, &service).map_err(crypto(&org.oid))?;
        kit.add(
            &format!("system-signature:{}", org.oid),
            &format!("system-signature-{s}"),
            c.der(),
            Some(&service_pem),
            Some(&key.serialize_pem()),
            Some(&org.oid),
            &format!(
                "system-signature certificate of {} (signatureDescription 3)",
                org.name
            ),
        )?;
    }
    for org in &inactive {
        let key = next_key()?;
        let p = tls_client_params(
            &org.name,
            &org.oid,
            org.municipality.as_deref(),
            now - Duration::hours(1),
            SERVER_DAYS,
        )?;
        let c = p.signed_by(&key, &service).map_err(crypto(&org.oid))?;
        let role = if inactive.len() == 1 {
            "bad:inactive-org".to_owned()
        } else {
            format!("bad:inactive-org:{}", org.oid)
        };
        kit.add(
            &role,
            &format!("bad-inactive-org-{}", slug(&org.name)),
            c.der(),
            Some(&service_pem),
            Some(&key.serialize_pem()),
            Some(&org.oid),
            &format!(
                "valid TLS client certificate of {}, which the register marks inactive",
                org.name
            ),
        )?;
    }

    // Professionals.
    for person in PROFESSIONALS {
        let key = next_key()?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, printable("FI"));
        dn.push(DnType::CustomDnType(TITLE.to_vec()), person.title);
        dn.push(
            DnType::CustomDnType(SERIAL_NUMBER.to_vec()),
            printable(person.registration_number),
        );
        dn.push(DnType::CustomDnType(GIVEN_NAME.to_vec()), person.given_name);
        dn.push(DnType::CustomDnType(SURNAME.to_vec()), person.surname);
        dn.push(
            DnType::CommonName,
            format!(
                "{} {} {}",
                person.surname, person.given_name, person.registration_number
            ),
        );
        let mut p = base_params(dn, now - Duration::hours(1), PROFESSIONAL_DAYS);
        p.key_usages = vec![KeyUsagePurpose::ContentCommitment];
        let c = p
            .signed_by(&key, &prof)
            .map_err(crypto(person.registration_number))?;
        kit.add(
            &format!("professional:{}", person.registration_number),
            &format!("professional-{}", person.registration_number),
            c.der(),
            Some(&prof_pem),
            Some(&key.serialize_pem()),
            Some(person.organisation),
            &format!(
                "professional certificate of {} {} ({}; signatureDescription 1)",
                person.given_name, person.surname, person.title
            ),
        )?;
    }

    // Negative kit: all name the first organisation unless the defect is the organisation.
    let bad = |days_from_now: i64, days: i64| {
        tls_client_params(
            &first.name,
            &first.oid,
            first.municipality.as_deref(),
            now + Duration::days(days_from_now),
            days,
        )
    };
    let describe = |role: &str| {
        NEGATIVE_KIT
            .iter()
            .find(|(r, _)| *r == role)
            .map_or("", |(_, d)| *d)
    };

    let key = next_key()?;
    let c = bad(-366, 365)?
        .signed_by(&key, &service)
        .map_err(crypto("bad:expired"))?;
    kit.add(
        "bad:expired",
        "bad-expired",
        c.der(),
        Some(&service_pem),
        Some(&key.serialize_pem()),
        Some(&first.oid),
        describe("bad:expired"),
    )?;

    let key = next_key()?;
    let c = bad(30, 365)?
        .signed_by(&key, &service)
        .map_err(crypto("bad:not-yet-valid"))?;
    kit.add(
        "bad:not-yet-valid",
        "bad-not-yet-valid",
        c.der(),
        Some(&service_pem),
        Some(&key.serialize_pem()),
        Some(&first.oid),
        describe("bad:not-yet-valid"),
    )?;

    let key = next_key()?;
    let p = bad(-1, 365)?;
    let revoked_serial = p.serial_number.clone();
    let c = p.signed_by(&key, &service).map_err(crypto("bad:revoked"))?;
    kit.add(
        "bad:revoked",
        "bad-revoked",
        c.der(),
        Some(&service_pem),
        Some(&key.serialize_pem()),
        Some(&first.oid),
        describe("bad:revoked"),
    )?;

    let rogue_key = next_key()?;
    let rogue_params = ca_params(ca_dn("Rogue", ROGUE_ROOT_CN), now, ROOT_DAYS, Some(0));
    let rogue_cert = rogue_params
        .self_signed(&rogue_key)
        .map_err(crypto("rogue root"))?;
    kit.add(
        "rogue-root-ca",
        "rogue-root-ca",
        rogue_cert.der(),
        None,
        None,
        None,
        "untrusted root that issues bad:unknown-issuer (never configure it as a trust anchor)",
    )?;
    let rogue = Issuer::new(rogue_params, rogue_key);
    let key = next_key()?;
    let c = bad(-1, 365)?
        .signed_by(&key, &rogue)
        .map_err(crypto("bad:unknown-issuer"))?;
    kit.add(
        "bad:unknown-issuer",
        "bad-unknown-issuer",
        c.der(),
        Some(&pem_cert(rogue_cert.der())),
        Some(&key.serialize_pem()),
        Some(&first.oid),
        describe("bad:unknown-issuer"),
    )?;

    let key = next_key()?;
    let mut p = bad(-1, 365)?;
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let c = p
        .signed_by(&key, &service)
        .map_err(crypto("bad:server-auth-only"))?;
    kit.add(
        "bad:server-auth-only",
        "bad-server-auth-only",
        c.der(),
        Some(&service_pem),
        Some(&key.serialize_pem()),
        Some(&first.oid),
        describe("bad:server-auth-only"),
    )?;

    let key = next_key()?;
    let p = tls_client_params(
        UNREGISTERED_ORG_NAME,
        UNREGISTERED_ORG_OID,
        Some("Testilä"),
        now - Duration::hours(1),
        SERVER_DAYS,
    )?;
    let c = p
        .signed_by(&key, &service)
        .map_err(crypto("bad:unregistered-org"))?;
    kit.add(
        "bad:unregistered-org",
        "bad-unregistered-org",
        c.der(),
        Some(&service_pem),
        Some(&key.serialize_pem()),
        Some(UNREGISTERED_ORG_OID),
        describe("bad:unregistered-org"),
    )?;

    // aws-lc refuses to make RSA keys under 2048 bits, so the weak key comes from the
    // RustCrypto implementation; only its public half goes into the certificate.
    let weak = weak_rsa_key()?;
    let spki = SubjectPublicKeyInfo::from_der(&weak.1).map_err(crypto("bad:weak-key"))?;
    let c = bad(-1, 365)?
        .signed_by(&spki, &service)
        .map_err(crypto("bad:weak-key"))?;
    kit.add(
        "bad:weak-key",
        "bad-weak-key",
        c.der(),
        Some(&service_pem),
        Some(&weak.0),
        Some(&first.oid),
        describe("bad:weak-key"),
    )?;

    // The CRL of the service CA, listing bad:revoked and server:revoked.
    let crl = CertificateRevocationListParams {
        this_update: now - Duration::hours(1),
        next_update: now + Duration::days(CRL_DAYS),
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: [revoked_serial, revoked_server_serial]
            .into_iter()
            .flatten()
            .map(|serial_number| RevokedCertParams {
                serial_number,
                revocation_time: now - Duration::hours(1),
                reason_code: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&service)
    .map_err(crypto("crl"))?;
    let crl_der = crl.der().as_ref();
    kit.write("crl.pem", &pem_block("X509 CRL", crl_der), false)?;
    kit.artefacts.push(Artefact {
        role: "crl".into(),
        cert: "crl.pem".into(),
        key: None,
        subject: None,
        issuer: CertInfo::from_der(service_cert.der())
            .map(|i| i.subject)
            .unwrap_or_default(),
        not_before: now - Duration::hours(1),
        not_after: now + Duration::days(CRL_DAYS),
        sha256: super::sha256_fingerprint(crl_der),
        serial: None,
        organisation: None,
        description: "CRL of the service CA; lists bad:revoked and server:revoked".into(),
    });

    let index = Index {
        generator: format!("kanta-sim {}", env!("CARGO_PKG_VERSION")),
        generated_at: now,
        key_algorithm: opts.key.name().to_owned(),
        artefacts: kit.artefacts,
    };
    let json = serde_json::to_string_pretty(&index).map_err(crypto("INDEX.json"))?;
    let kit = Kit {
        dir: dir.to_owned(),
        artefacts: Vec::new(),
    };
    kit.write(INDEX_JSON, &json, false)?;
    kit.write(INDEX_MD, &index.to_markdown(), false)?;
    Ok(index)
}

/// An RSA 1024 key as (PKCS#8 PEM, SPKI DER).
fn weak_rsa_key() -> Result<(String, Vec<u8>), GenerateError> {
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 1024)
        .map_err(crypto("bad:weak-key"))?;
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(crypto("bad:weak-key"))?;
    let spki = key
        .to_public_key()
        .to_public_key_der()
        .map_err(crypto("bad:weak-key"))?;
    Ok((pem.to_string(), spki.as_bytes().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_host_labels() {
        assert_eq!(slug("Testilän hyvinvointialue"), "testilan-hyvinvointialue");
        assert_eq!(slug("Simulaatiohoiva Oy"), "simulaatiohoiva-oy");
        assert_eq!(slug("  Å & Ö  "), "a-o");
    }
}
