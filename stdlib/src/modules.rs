//! The standard module library (`import "std/<name>"`): the repository's
//! `modules/` directory, embedded into the binary.

/// Every standard module: name and source.
pub const STD_MODULES: &[(&str, &str)] = &[
    ("argocd", include_str!("../../modules/argocd.rhai")),
    (
        "cert_manager",
        include_str!("../../modules/cert_manager.rhai"),
    ),
    ("keycloak", include_str!("../../modules/keycloak.rhai")),
    ("loki", include_str!("../../modules/loki.rhai")),
    ("monitoring", include_str!("../../modules/monitoring.rhai")),
    ("service", include_str!("../../modules/service.rhai")),
    ("services", include_str!("../../modules/services.rhai")),
    ("traefik", include_str!("../../modules/traefik.rhai")),
];

/// The source of a standard module.
pub fn std_module(name: &str) -> Option<&'static str> {
    STD_MODULES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}
