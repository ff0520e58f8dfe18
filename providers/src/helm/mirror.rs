//! Chart repository mirrors: `STACK_CHART_MIRRORS` maps repository URLs to
//! the mirrors to read them from (`https://argoproj.github.io/argo-helm=https://charts.internal/argo`,
//! several separated by commas), for networks that reach chart
//! repositories only through an internal mirror. Scripts keep naming the
//! upstream repository, so one stack works inside and outside such a
//! network; only the charts `stack` renders itself are read through the
//! mirror (Argo CD reads its Applications' charts with its own settings).

/// The environment variable holding the mirrors.
pub const MIRRORS_ENV: &str = "STACK_CHART_MIRRORS";

/// The URL to read `repo` from under `mirrors` (`from=to,from=to`): the
/// mirror of the longest matching repository prefix, else `repo` itself.
pub fn rewrite(repo: &str, mirrors: &str) -> String {
    let repo_trimmed = repo.trim_end_matches('/');
    mirrors
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(from, to)| {
            (
                from.trim().trim_end_matches('/'),
                to.trim().trim_end_matches('/'),
            )
        })
        .filter(|(from, to)| !from.is_empty() && !to.is_empty())
        .filter(|(from, _)| repo_trimmed == *from || repo_trimmed.starts_with(&format!("{from}/")))
        .max_by_key(|(from, _)| from.len())
        .map(|(from, to)| format!("{to}{}", &repo_trimmed[from.len()..]))
        .unwrap_or_else(|| repo.to_string())
}

/// The URL to read `repo` from under the mirrors in the environment.
pub fn from_env(repo: &str) -> String {
    match std::env::var(MIRRORS_ENV) {
        Ok(mirrors) if !mirrors.trim().is_empty() => rewrite(repo, &mirrors),
        _ => repo.to_string(),
    }
}

/// `url` without a `user:password@` part, for messages and file names.
pub fn without_credentials(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_left_out_of_what_is_shown() {
        assert_eq!(
            without_credentials("https://bot:s3cret@charts.internal/argo"),
            "https://charts.internal/argo"
        );
        assert_eq!(
            without_credentials("https://charts.internal/argo"),
            "https://charts.internal/argo"
        );
    }

    #[test]
    fn the_longest_matching_prefix_wins() {
        let mirrors = "https://charts.example.com=http://m/all, https://charts.example.com/argo=http://m/argo/";
        assert_eq!(
            rewrite("https://charts.example.com/argo", mirrors),
            "http://m/argo"
        );
        assert_eq!(
            rewrite("https://charts.example.com/argo/", mirrors),
            "http://m/argo"
        );
        assert_eq!(
            rewrite("https://charts.example.com/jetstack", mirrors),
            "http://m/all/jetstack"
        );
        assert_eq!(
            rewrite("https://charts.example.com", mirrors),
            "http://m/all"
        );
    }

    #[test]
    fn other_repositories_and_bad_entries_are_left_alone() {
        let mirrors = "https://charts.example.com=http://m,nonsense,=http://x";
        assert_eq!(
            rewrite("https://charts.example.community", mirrors),
            "https://charts.example.community"
        );
        assert_eq!(
            rewrite("https://other.example.com", mirrors),
            "https://other.example.com"
        );
        assert_eq!(
            rewrite("https://other.example.com", ""),
            "https://other.example.com"
        );
    }
}
