//! Which of a checkout's files are Docker Compose files: the schema check and the compose
//! policies read them, and no other gate does.

/// Compose files at the root: `compose.yaml`, `docker-compose.yml`, their overrides and
/// variants such as `docker-compose.prod.yml`.
pub fn is_compose(path: &str) -> bool {
    !path.contains('/')
        && (path.starts_with("compose.") || path.starts_with("docker-compose."))
        && (path.ends_with(".yml") || path.ends_with(".yaml"))
}

/// The main compose files, the ones that define the services (not overrides or variants).
pub fn is_main_compose(path: &str) -> bool {
    matches!(path, "compose.yaml" | "compose.yml" | "docker-compose.yaml" | "docker-compose.yml")
}
