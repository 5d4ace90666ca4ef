//! `kanta-sim config`: print the documented default, check a file.

use std::path::PathBuf;

use clap::Subcommand;

use super::{Failure, exit};
use crate::config::{Config, DEFAULT_CONFIG};

#[derive(Debug, Subcommand)]
pub(super) enum ConfigCommand {
    /// Print the built-in default configuration, every key documented.
    Default,
    /// Check a configuration file (and the files it names) without serving.
    Check {
        /// The file.
        file: Option<PathBuf>,
    },
}

/// Runs `config`.
pub(super) fn run(cmd: ConfigCommand) -> Result<u8, Failure> {
    match cmd {
        ConfigCommand::Default => {
            out!("{DEFAULT_CONFIG}");
            Ok(exit::OK)
        }
        ConfigCommand::Check { file } => {
            let mut cfg = Config::load(file.as_deref()).map_err(Failure::usage)?;
            cfg.apply_env().map_err(Failure::usage)?;
            crate::tls::ServerMaterial::load(&cfg).map_err(Failure::usage)?;
            outln!("configuration OK");
            Ok(exit::OK)
        }
    }
}
