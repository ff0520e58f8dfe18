//! `stack service deploy|promote|remove|list`: what a service's pipeline
//! calls to deploy without a run of the platform stack — each a change of
//! `<env>/<service>.json` in the services-root repository, one commit,
//! idempotent (no commit when nothing changes).

use std::process::ExitCode;

use serde_json::json;

use crate::cli::{OutputFormat, ServiceCommand};
use crate::context::Context;
use crate::failure::Failure;
use crate::services_root::{ServiceFile, ServicesRoot, ServicesRootError};

pub fn run(context: &Context, command: &ServiceCommand) -> Result<ExitCode, Failure> {
    context.block_on(run_async(command))?
}

async fn run_async(command: &ServiceCommand) -> Result<ExitCode, Failure> {
    // A working copy on another branch is the command line's mistake (2);
    // git failing to read, commit or push is a runtime failure (1).
    let runtime = |e: stack_engine::provider::ProviderError| {
        let failed = RepositoryFailed {
            message: e.message(),
            help: e.help(),
        };
        if e.downcast_ref::<ServicesRootError>().is_some() {
            Failure::usage(failed)
        } else {
            Failure::runtime(failed)
        }
    };
    match command {
        ServiceCommand::Deploy {
            root,
            env,
            service,
            image_tag,
            revision,
            team,
            repo_url,
        } => {
            let repo = ServicesRoot::open(&root.root, &root.branch)
                .await
                .map_err(runtime)?;
            repo.check_environment(env).map_err(Failure::usage)?;
            let current = repo.read(env, service).map_err(Failure::usage)?;
            let team = match (team, &current) {
                (Some(team), _) => team.clone(),
                (None, Some(current)) => current.team.clone(),
                (None, None) => return Err(Failure::usage(missing(service, env, "--team TEAM"))),
            };
            repo.check_team(&team).map_err(Failure::usage)?;
            let repo_url = match (repo_url, &current) {
                (Some(url), _) => url.clone(),
                (None, Some(current)) => current.repo_url.clone(),
                (None, None) => {
                    return Err(Failure::usage(missing(service, env, "--repo-url URL")))
                }
            };
            let file = ServiceFile {
                service: service.clone(),
                team,
                repo_url,
                target_revision: revision.clone().unwrap_or_else(|| image_tag.clone()),
                image_tag: image_tag.clone(),
                values: current.as_ref().and_then(|c| c.values.clone()),
            };
            repo.write(env, service, Some(&file))
                .map_err(Failure::runtime)?;
            let message = format!("deploy {service} {image_tag} to {env}");
            report(
                repo.commit(env, service, &message).await.map_err(runtime)?,
                &message,
            )
        }
        ServiceCommand::Promote {
            root,
            from,
            to,
            service,
        } => {
            let repo = ServicesRoot::open(&root.root, &root.branch)
                .await
                .map_err(runtime)?;
            repo.check_environment(from).map_err(Failure::usage)?;
            repo.check_environment(to).map_err(Failure::usage)?;
            let Some(promoted) = repo.read(from, service).map_err(Failure::usage)? else {
                return Err(Failure::usage(not_deployed(service, from)));
            };
            // The target keeps its own values.
            let values = repo
                .read(to, service)
                .map_err(Failure::usage)?
                .and_then(|c| c.values);
            let file = ServiceFile { values, ..promoted };
            repo.write(to, service, Some(&file))
                .map_err(Failure::runtime)?;
            let message = format!("promote {service} {} from {from} to {to}", file.image_tag);
            report(
                repo.commit(to, service, &message).await.map_err(runtime)?,
                &message,
            )
        }
        ServiceCommand::Remove { root, env, service } => {
            let repo = ServicesRoot::open(&root.root, &root.branch)
                .await
                .map_err(runtime)?;
            repo.check_environment(env).map_err(Failure::usage)?;
            if repo.read(env, service).map_err(Failure::usage)?.is_none() {
                return Err(Failure::usage(not_deployed(service, env)));
            }
            repo.write(env, service, None).map_err(Failure::runtime)?;
            let message = format!("remove {service} from {env}");
            report(
                repo.commit(env, service, &message).await.map_err(runtime)?,
                &message,
            )
        }
        ServiceCommand::List {
            root,
            output,
            context,
            kubeconfig,
            argocd_namespace,
        } => {
            let repo = ServicesRoot::open(&root.root, &root.branch)
                .await
                .map_err(runtime)?;
            let all = repo.all().map_err(Failure::usage)?;
            // The Applications `std/services` made, when a cluster is named.
            let live = if context.is_some() || kubeconfig.is_some() {
                Some(
                    applications(context.as_deref(), kubeconfig.as_deref(), argocd_namespace)
                        .await
                        .map_err(runtime)?,
                )
            } else {
                None
            };
            let mut rows = Vec::new();
            for (env, services) in &all {
                for s in services {
                    let commit = repo.last_commit(env, &s.service).await.unwrap_or_default();
                    let status = live.as_ref().map(|apps| {
                        apps.get(&format!("{}-{env}", s.service))
                            .cloned()
                            .unwrap_or_else(|| ("Missing".to_string(), "Missing".to_string()))
                    });
                    rows.push((env.clone(), s.clone(), commit, status));
                }
            }
            match output {
                OutputFormat::Json => {
                    let entries: Vec<serde_json::Value> = rows
                        .iter()
                        .map(|(env, s, commit, status)| {
                            let mut entry = json!({
                                "env": env, "service": s.service, "team": s.team,
                                "imageTag": s.image_tag, "targetRevision": s.target_revision,
                                "repoURL": s.repo_url, "lastCommit": commit,
                            });
                            if let Some((sync, health)) = status {
                                entry["sync"] = json!(sync);
                                entry["health"] = json!(health);
                            }
                            entry
                        })
                        .collect();
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&json!({ "services": entries }))
                            .unwrap_or_default()
                    );
                }
                OutputFormat::Text => {
                    if rows.is_empty() {
                        println!("No services are deployed.");
                    }
                    let mut env = "";
                    for (e, s, commit, status) in &rows {
                        if e != env {
                            println!("{e}:");
                            env = e;
                        }
                        let live = status
                            .as_ref()
                            .map(|(sync, health)| format!("{sync}/{health}  "))
                            .unwrap_or_default();
                        println!(
                            "  {:<20} {:<12} image {:<14} revision {:<14} {live}{commit}",
                            s.service, s.team, s.image_tag, s.target_revision
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The sync and health of each Application `std/services` made, in Argo
/// CD's namespace of the cluster the kubeconfig names, by name.
async fn applications(
    context: Option<&str>,
    kubeconfig: Option<&std::path::Path>,
    namespace: &str,
) -> Result<
    std::collections::BTreeMap<String, (String, String)>,
    stack_engine::provider::ProviderError,
> {
    let mut inputs = json!({ "provider": "existing" });
    if let Some(context) = context {
        inputs["context"] = json!(context);
    }
    if let Some(kubeconfig) = kubeconfig {
        inputs["kubeconfig"] = json!(kubeconfig.to_string_lossy());
    }
    let target = stack_engine::provider::ClusterTarget::new(
        stack_engine::ResourceId::new("cluster/services"),
        inputs,
        Default::default(),
    );
    stack_providers::kubernetes::applications::statuses(&target, namespace, "stack.dev/service")
        .await
}

/// Reading, committing or pushing the services-root failed (git's own
/// words in the help).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{message}")]
#[diagnostic(code(stack::service::repository))]
struct RepositoryFailed {
    message: String,
    #[help]
    help: Option<String>,
}

fn report(commit: Option<String>, message: &str) -> Result<ExitCode, Failure> {
    match commit {
        Some(hash) => eprintln!("committed {hash}: {message}"),
        None => eprintln!("Nothing to commit: the services-root already says so ({message})."),
    }
    Ok(ExitCode::SUCCESS)
}

fn missing(service: &str, env: &str, flag: &str) -> ServicesRootError {
    ServicesRootError::Missing {
        what: format!("`{service}` is not deployed to {env} yet, and a first deploy needs {flag}"),
        help: "a first deploy names the team and the service's repository: `--team TEAM --repo-url URL`".to_string(),
    }
}

fn not_deployed(service: &str, env: &str) -> ServicesRootError {
    ServicesRootError::Missing {
        what: format!("`{service}` is not deployed to {env}"),
        help: "`stack service list --root REPO` shows what is deployed where".to_string(),
    }
}
