"""moto in server mode, with the two EKS version updates moto does not
serve (UpdateClusterVersion, UpdateNodegroupVersion) added: both complete at
once, like every other EKS change in moto. With MOTO_EKS_CLUSTER_ENDPOINT
set, every cluster reports that URL as its Kubernetes API endpoint (and no
CA, the URL being plain HTTP), so a test's Kubernetes API server stands in
for the clusters moto pretends to create. Run with the interpreter of the
virtualenv moto is installed in; takes `moto_server`'s arguments."""

import os
import uuid

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.eks import urls
from moto.eks.models import Cluster, EKSBackend
from moto.eks.exceptions import ResourceNotFoundException
from moto.eks.responses import EKSResponse
from moto.server import main


def _update(version):
    return {
        "id": str(uuid.uuid4()),
        "status": "Successful",
        "type": "VersionUpdate",
        "params": [{"type": "Version", "value": version}],
        "createdAt": utcnow(),
        "errors": [],
    }


def _cluster(backend, name):
    cluster = backend.clusters.get(name)
    if cluster is None:
        raise ResourceNotFoundException(
            clusterName=name,
            nodegroupName=None,
            fargateProfileName=None,
            addonName=None,
            message=f"No cluster found for name: {name}.",
        )
    return cluster


def backend_update_cluster_version(self, name, version):
    _cluster(self, name).version = version
    return _update(version)


def backend_update_nodegroup_version(self, cluster_name, nodegroup_name, version):
    group = _cluster(self, cluster_name).nodegroups.get(nodegroup_name)
    if group is None:
        raise ResourceNotFoundException(
            clusterName=cluster_name,
            nodegroupName=nodegroup_name,
            fargateProfileName=None,
            addonName=None,
            message=f"No node group found for name: {nodegroup_name}.",
        )
    group.version = version
    return _update(version)


def update_cluster_version(self):
    update = self.eks_backend.update_cluster_version(
        name=self._get_param("name"), version=self._get_param("version")
    )
    return ActionResult({"update": update})


def update_nodegroup_version(self):
    update = self.eks_backend.update_nodegroup_version(
        cluster_name=self._get_param("name"),
        nodegroup_name=self._get_param("nodegroupName"),
        version=self._get_param("version"),
    )
    return ActionResult({"update": update})


_ENDPOINT = os.environ.get("MOTO_EKS_CLUSTER_ENDPOINT")
if _ENDPOINT:
    _cluster_init = Cluster.__init__

    def _cluster_at_endpoint(self, *args, **kwargs):
        _cluster_init(self, *args, **kwargs)
        self.endpoint = _ENDPOINT
        self.certificate_authority = {}

    Cluster.__init__ = _cluster_at_endpoint

EKSBackend.update_cluster_version = backend_update_cluster_version
EKSBackend.update_nodegroup_version = backend_update_nodegroup_version
EKSResponse.update_cluster_version = update_cluster_version
EKSResponse.update_nodegroup_version = update_nodegroup_version
urls.url_paths["{0}/clusters/(?P<name>[^/]+)/updates$"] = urls.response.dispatch
urls.url_paths[
    "{0}/clusters/(?P<name>[^/]+)/node-groups/(?P<nodegroupName>[^/]+)/update-version$"
] = urls.response.dispatch

if __name__ == "__main__":
    main()
