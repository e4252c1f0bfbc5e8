//! `medaid users …`: the console's staff accounts.

use super::setup::open;
use super::DatabaseArg;
use crate::engine::PolicySet;
use crate::service::console::{AccountError, StaffRole};
use crate::service::Service;
use crate::storage::console::Actor;
use anyhow::bail;
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// Create a staff account for the web console. Prints a one-time
    /// password, unless --password-stdin reads one (at least 10 characters).
    Create {
        #[arg(long, value_enum)]
        role: StaffRoleArg,
        /// Login name: a–z, 0–9, `_` and `.`.
        #[arg(long)]
        login: String,
        /// The person's name as the audit log shows it (张三).
        #[arg(long)]
        name: String,
        /// Read the password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// List the staff accounts.
    List {
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Disable an account (its sessions end at once).
    Disable {
        login: String,
        /// Enable it again instead.
        #[arg(long)]
        enable: bool,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Set a new password (printed once, or read with --password-stdin);
    /// the account's sessions end.
    ResetPassword {
        login: String,
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        db: DatabaseArg,
    },
}

/// A staff role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StaffRoleArg {
    /// The medical-aid centre (救助中心).
    #[value(alias = "center")]
    Centre,
    /// Administrators (管理员).
    Admin,
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let p = line.trim_end_matches(['\r', '\n']).to_string();
    if p.is_empty() {
        bail!("--password-stdin: no password on stdin");
    }
    Ok(p)
}

fn account_error(e: AccountError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

pub async fn run(cmd: UsersCommand) -> anyhow::Result<()> {
    match cmd {
        UsersCommand::Create {
            role,
            login,
            name,
            password_stdin,
            db,
        } => {
            let password = password_stdin.then(read_password).transpose()?;
            let svc = Service::new(open(&db.database_url).await?, PolicySet::default());
            let role = match role {
                StaffRoleArg::Centre => StaffRole::Centre,
                StaffRoleArg::Admin => StaffRole::Admin,
            };
            let (id, generated) = svc
                .create_staff(&login, &name, role, password.as_deref(), &Actor::cli())
                .await
                .map_err(account_error)?;
            svc.db.close().await;
            eprintln!("created {login} (#{id}, {}, {name})", role.as_str());
            if let Some(p) = generated {
                eprintln!(
                    "one-time password (shown once; change it with `medaid users reset-password`):"
                );
                println!("{p}");
            }
        }
        UsersCommand::List { db } => {
            let svc = Service::new(open(&db.database_url).await?, PolicySet::default());
            let users = svc.staff_list().await?;
            svc.db.close().await;
            println!("id,login,name,role,disabled,created_at");
            for u in users {
                println!(
                    "{},{},{},{},{},{}",
                    u.id, u.login, u.name, u.role, u.disabled, u.created_at
                );
            }
        }
        UsersCommand::Disable { login, enable, db } => {
            let svc = Service::new(open(&db.database_url).await?, PolicySet::default());
            svc.set_staff_disabled(&login, !enable, &Actor::cli())
                .await
                .map_err(account_error)?;
            svc.db.close().await;
            eprintln!("{login} {}", if enable { "enabled" } else { "disabled" });
        }
        UsersCommand::ResetPassword {
            login,
            password_stdin,
            db,
        } => {
            let password = password_stdin.then(read_password).transpose()?;
            let svc = Service::new(open(&db.database_url).await?, PolicySet::default());
            let generated = svc
                .reset_staff_password(&login, password.as_deref(), &Actor::cli())
                .await
                .map_err(account_error)?;
            svc.db.close().await;
            eprintln!("password of {login} changed; its sessions ended");
            if let Some(p) = generated {
                println!("{p}");
            }
        }
    }
    Ok(())
}
