//! EKS clusters (`provider: "eks"`) through the AWS SDK and the standard
//! AWS configuration (credential chain, `AWS_ENDPOINT_URL`).
//!
//! Applying converges the cluster towards its inputs: create the control
//! plane and wait until it is ACTIVE; upgrade its Kubernetes version, then
//! each node group's; change endpoint access, logging and tags; create,
//! scale, relabel, replace (on a new instance type) and delete managed
//! node groups, side by side. What is already as asked is only described,
//! never written. Deleting removes the node groups, waits until they are
//! gone, then removes the cluster and waits again.
//!
//! - `cluster.rs` — the cluster's inputs and control-plane calls
//! - `nodegroups.rs` — managed node groups
//! - `token.rs` — bearer tokens for the cluster's Kubernetes API
//! - `wait.rs` — polling with backoff, bounded by the request's timeout
//! - `error.rs` — AWS failures as provider errors

pub mod cluster;
pub mod error;
pub mod nodegroups;
pub mod token;
pub mod wait;

use std::collections::BTreeMap;
use std::time::Duration;

use self::error::Eks;
pub use self::error::EksError;
use futures_util::future::try_join_all;
use serde_json::Value as Json;
use stack_engine::ownership::{Holder, Owner};
use stack_engine::provider::{
    Adoption, Applied, ApplyRequest, DeleteRequest, Provider, ProviderError,
};
use stack_engine::state::backend::BoxFuture;
use tokio::time::Instant;

pub use crate::aws::{Aws, AwsSettings, Credentials, Journal};

use self::cluster::ClusterSpec;
use self::nodegroups::NodeGroupSpec;

pub use self::token::EksTokenSource;
use self::wait::{Backoff, Deadline, Poll};

/// How long an EKS cluster may take when the script sets no `timeout`:
/// creating a control plane and its node groups takes 10 to 20 minutes.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The cluster's `timeout`, else [`DEFAULT_TIMEOUT`] rather than the
/// executor's default for everything else.
fn timeout(inputs: &Json, given: Duration) -> Duration {
    match inputs.get("timeout") {
        Some(_) => given,
        None => DEFAULT_TIMEOUT,
    }
}

/// The provider of EKS clusters.
#[derive(Clone, Default)]
pub struct EksProvider {
    aws: Aws,
    journal: Journal,
    backoff: Backoff,
}

impl EksProvider {
    /// A provider with the standard AWS configuration.
    pub fn new() -> Self {
        EksProvider::default()
    }

    pub fn with_aws(aws: Aws) -> Self {
        EksProvider {
            aws,
            ..EksProvider::default()
        }
    }

    /// How often to poll while waiting.
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The AWS configuration, to share with the token source.
    pub fn aws(&self) -> &Aws {
        &self.aws
    }

    /// The writes made so far.
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    async fn apply_cluster(&self, request: &ApplyRequest) -> Result<Applied, ProviderError> {
        let mut spec = ClusterSpec::from_inputs(&request.name, &request.inputs)?;
        spec.tags.extend(request.owner.tags());
        let previous = request
            .previous
            .as_ref()
            .and_then(|p| ClusterSpec::from_inputs(&request.name, &p.inputs).ok());
        let client = self.aws.eks(&spec.region).await;
        let deadline = &Deadline {
            at: Instant::now() + timeout(&request.inputs, request.timeout),
            progress: request.progress.clone(),
        };

        // The control plane.
        let mut live = match cluster::describe(&client, &spec.name).await? {
            Some(found)
                if matches!(
                    found.status(),
                    Some(aws_sdk_eks::types::ClusterStatus::Deleting)
                ) =>
            {
                self.cluster_gone(&client, &spec.name, deadline).await?;
                None
            }
            found => found,
        };
        if let (Some(found), None) = (&live, &request.previous) {
            check_takeover(request, &spec, found)?;
        }
        if live.is_none() {
            cluster::create(&client, &spec, &self.journal).await?;
        }
        let mut current = self
            .cluster_ready(&client, &spec.name, None, deadline)
            .await?;
        if current.version() != Some(spec.version.as_str()) {
            cluster::upgrade(&client, &spec, &self.journal).await?;
            current = self
                .cluster_ready(&client, &spec.name, Some(&spec.version), deadline)
                .await?;
        }
        if live.is_some() {
            for change in cluster::config_changes(&spec, previous.as_ref()) {
                cluster::reconfigure(&client, &spec, change, &self.journal).await?;
                current = self
                    .cluster_ready(&client, &spec.name, None, deadline)
                    .await?;
            }
        }
        cluster::retag(&client, &spec, &current, previous.as_ref(), &self.journal).await?;

        // The node groups, side by side (each takes minutes on EKS), then
        // the ones dropped from the inputs deleted.
        try_join_all(
            spec.node_groups
                .iter()
                .map(|group| self.converge_group(&client, &spec, group, deadline)),
        )
        .await?;
        let dropped: Vec<&NodeGroupSpec> = previous
            .iter()
            .flat_map(|p| p.node_groups.iter())
            .filter(|p| !spec.node_groups.iter().any(|g| g.name == p.name))
            .collect();
        for group in &dropped {
            nodegroups::delete(&client, &spec.name, &group.name, &self.journal).await?;
        }
        try_join_all(
            dropped
                .iter()
                .map(|group| self.group_gone(&client, &spec.name, &group.name, deadline)),
        )
        .await?;

        live = cluster::describe(&client, &spec.name).await?;
        let live = live.ok_or_else(|| EksError::Disappeared {
            what: spec.what(),
            during: "it was applied".into(),
        })?;
        let text = |s: Option<&str>| Json::String(s.unwrap_or_default().to_string());
        let outputs: BTreeMap<String, Json> = [
            ("name".to_string(), text(live.name())),
            ("endpoint".to_string(), text(live.endpoint())),
            (
                "ca_data".to_string(),
                text(live.certificate_authority().and_then(|c| c.data())),
            ),
            ("version".to_string(), text(live.version())),
        ]
        .into_iter()
        .collect();
        Ok(Applied {
            outputs,
            objects: Vec::new(),
        })
    }

    /// Creates, reconfigures or upgrades one node group, waiting until it is
    /// ACTIVE after each change.
    async fn converge_group(
        &self,
        client: &Eks,
        spec: &ClusterSpec,
        group: &NodeGroupSpec,
        deadline: &Deadline,
    ) -> Result<(), ProviderError> {
        let live = match nodegroups::describe(client, &spec.name, &group.name).await? {
            Some(live) => live,
            None => {
                nodegroups::create(client, spec, group, &self.journal).await?;
                self.group_ready(client, &spec.name, &group.name, deadline)
                    .await?;
                return Ok(());
            }
        };
        let mut live = live;
        if !nodegroups::is_active(&live) {
            live = self
                .group_ready(client, &spec.name, &group.name, deadline)
                .await?;
        }
        let types = live.instance_types();
        if !types.is_empty() && !types.contains(&group.instance_type) {
            // EKS cannot change the instance types of a node group: it is
            // replaced.
            nodegroups::delete(client, &spec.name, &group.name, &self.journal).await?;
            self.group_gone(client, &spec.name, &group.name, deadline)
                .await?;
            nodegroups::create(client, spec, group, &self.journal).await?;
            self.group_ready(client, &spec.name, &group.name, deadline)
                .await?;
            return Ok(());
        }
        if nodegroups::reconfigure(client, &spec.name, group, &live, &self.journal).await? {
            live = self
                .group_ready(client, &spec.name, &group.name, deadline)
                .await?;
        }
        if live.version().is_some_and(|v| v != spec.version) {
            nodegroups::upgrade(
                client,
                &spec.name,
                &group.name,
                &spec.version,
                &self.journal,
            )
            .await?;
            self.group_ready(client, &spec.name, &group.name, deadline)
                .await?;
        }
        Ok(())
    }

    /// Waits until the cluster is ACTIVE (and at `version`, when given).
    async fn cluster_ready(
        &self,
        client: &Eks,
        name: &str,
        version: Option<&str>,
        deadline: &Deadline,
    ) -> Result<aws_sdk_eks::types::Cluster, ProviderError> {
        let what = format!("EKS cluster `{name}` to become ACTIVE");
        wait::until(&what, deadline, self.backoff, || {
            let client = client.clone();
            async move {
                match cluster::describe(&client, name).await? {
                    None => Err(EksError::Disappeared {
                        what: format!("EKS cluster `{name}`"),
                        during: "waiting for it to become ACTIVE".into(),
                    }
                    .into()),
                    Some(c) if cluster::is_failed(&c) => Err(EksError::Failed {
                        what: format!("EKS cluster `{name}`"),
                        status: cluster::status(&c),
                        issues: Vec::new(),
                    }
                    .into()),
                    Some(c)
                        if cluster::is_active(&c)
                            && version.is_none_or(|v| c.version() == Some(v)) =>
                    {
                        Ok(Poll::Done(c))
                    }
                    Some(c) => Ok(Poll::Pending(format!(
                        "{} (version {})",
                        cluster::status(&c),
                        c.version().unwrap_or("?")
                    ))),
                }
            }
        })
        .await
    }

    async fn cluster_gone(
        &self,
        client: &Eks,
        name: &str,
        deadline: &Deadline,
    ) -> Result<(), ProviderError> {
        let what = format!("EKS cluster `{name}` to be deleted");
        wait::until(&what, deadline, self.backoff, || {
            let client = client.clone();
            async move {
                Ok(match cluster::describe(&client, name).await? {
                    None => Poll::Done(()),
                    Some(c) => Poll::Pending(cluster::status(&c)),
                })
            }
        })
        .await
    }

    async fn group_ready(
        &self,
        client: &Eks,
        cluster: &str,
        group: &str,
        deadline: &Deadline,
    ) -> Result<aws_sdk_eks::types::Nodegroup, ProviderError> {
        let what = format!("{} to become ACTIVE", nodegroups::what(cluster, group));
        wait::until(&what, deadline, self.backoff, || {
            let client = client.clone();
            async move {
                match nodegroups::describe(&client, cluster, group).await? {
                    None => Err(EksError::Disappeared {
                        what: nodegroups::what(cluster, group),
                        during: "waiting for it to become ACTIVE".into(),
                    }
                    .into()),
                    Some(g) if nodegroups::is_failed(&g) => {
                        let issues: Vec<String> = g
                            .health()
                            .map(|h| {
                                h.issues()
                                    .iter()
                                    .map(|i| i.message().unwrap_or_default().to_string())
                                    .collect()
                            })
                            .unwrap_or_default();
                        Err(EksError::Failed {
                            what: nodegroups::what(cluster, group),
                            status: nodegroups::status(&g),
                            issues,
                        }
                        .into())
                    }
                    Some(g) if nodegroups::is_active(&g) => Ok(Poll::Done(g)),
                    Some(g) => Ok(Poll::Pending(nodegroups::status(&g))),
                }
            }
        })
        .await
    }

    async fn group_gone(
        &self,
        client: &Eks,
        cluster: &str,
        group: &str,
        deadline: &Deadline,
    ) -> Result<(), ProviderError> {
        let what = format!("{} to be deleted", nodegroups::what(cluster, group));
        wait::until(&what, deadline, self.backoff, || {
            let client = client.clone();
            async move {
                Ok(match nodegroups::describe(&client, cluster, group).await? {
                    None => Poll::Done(()),
                    Some(g) => Poll::Pending(nodegroups::status(&g)),
                })
            }
        })
        .await
    }

    async fn delete_cluster(&self, request: &DeleteRequest) -> Result<(), ProviderError> {
        let recorded = &request.recorded;
        let name = recorded
            .outputs
            .get("name")
            .and_then(Json::as_str)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| request.id.name().to_string());
        let region = recorded
            .inputs
            .get("region")
            .and_then(Json::as_str)
            .unwrap_or_default();
        let client = self.aws.eks(region).await;
        let deadline = &Deadline {
            at: Instant::now() + timeout(&request.recorded.inputs, request.timeout),
            progress: request.progress.clone(),
        };
        match cluster::describe(&client, &name).await? {
            None => return Ok(()),
            Some(c)
                if !crate::ownership::may_delete(
                    &holder(&request.owner, &c),
                    request.recorded.confirmed().is_some(),
                ) =>
            {
                let what = format!("EKS cluster `{name}`");
                request.progress.report(crate::ownership::left_to(
                    &what,
                    &holder(&request.owner, &c),
                ));
                return Ok(());
            }
            Some(c)
                if matches!(
                    c.status(),
                    Some(aws_sdk_eks::types::ClusterStatus::Deleting)
                ) =>
            {
                return self.cluster_gone(&client, &name, deadline).await;
            }
            Some(_) => {}
        }
        let groups = nodegroups::list(&client, &name).await?;
        for group in &groups {
            nodegroups::delete(&client, &name, group, &self.journal).await?;
        }
        try_join_all(
            groups
                .iter()
                .map(|group| self.group_gone(&client, &name, group, deadline)),
        )
        .await?;
        if cluster::delete(&client, &name, &self.journal).await? {
            self.cluster_gone(&client, &name, deadline).await?;
        }
        Ok(())
    }
}

impl EksProvider {
    /// Before a plan: a cluster this resource would create that exists
    /// already and belongs to another stack, or to nobody without
    /// `adopt: true`. AWS not answering decides nothing: the run asks again.
    async fn preflight_cluster(
        &self,
        request: &ApplyRequest,
    ) -> Result<Vec<Adoption>, ProviderError> {
        if request.previous.is_some() {
            return Ok(Vec::new());
        }
        let Ok(spec) = ClusterSpec::from_inputs(&request.name, &request.inputs) else {
            return Ok(Vec::new());
        };
        let asked = async {
            let client = self.aws.eks(&spec.region).await;
            cluster::describe(&client, &spec.name).await
        };
        match tokio::time::timeout(PREFLIGHT_PROBE, asked).await {
            Ok(Ok(Some(found))) => {
                check_takeover(request, &spec, &found)?;
                let taken = crate::ownership::is_adopted(&holder(&request.owner, &found));
                Ok(taken
                    .then(|| Adoption {
                        what: spec.what(),
                        changes: Vec::new(),
                    })
                    .into_iter()
                    .collect())
            }
            _ => Ok(Vec::new()),
        }
    }
}

/// How long AWS may take to answer before a plan: one that does not is
/// left to the run, which asks again.
const PREFLIGHT_PROBE: Duration = Duration::from_secs(3);

/// Fails when the existing cluster `found` is not this resource's to take.
fn check_takeover(
    request: &ApplyRequest,
    spec: &ClusterSpec,
    found: &aws_sdk_eks::types::Cluster,
) -> Result<(), ProviderError> {
    let adopt = request.inputs.get("adopt").and_then(Json::as_bool) == Some(true);
    crate::ownership::check_create(
        &spec.what(),
        Some(&holder(&request.owner, found)),
        &request.owner,
        adopt,
    )
}

impl Provider for EksProvider {
    fn name(&self) -> &'static str {
        "eks"
    }

    fn preflight<'a>(
        &'a self,
        request: &'a ApplyRequest,
    ) -> BoxFuture<'a, Result<Vec<Adoption>, ProviderError>> {
        Box::pin(self.preflight_cluster(request))
    }

    fn apply<'a>(
        &'a self,
        request: &'a ApplyRequest,
    ) -> BoxFuture<'a, Result<Applied, ProviderError>> {
        Box::pin(self.apply_cluster(request))
    }

    fn delete<'a>(
        &'a self,
        request: &'a DeleteRequest,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(self.delete_cluster(request))
    }
}

/// Who holds an EKS cluster, read from its tags.
fn holder(owner: &Owner, cluster: &aws_sdk_eks::types::Cluster) -> Holder {
    let tags = cluster.tags();
    owner.holder_of_tagged(|key| tags.and_then(|t| t.get(key)).map(String::as_str))
}
