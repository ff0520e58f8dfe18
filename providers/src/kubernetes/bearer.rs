//! Bearer tokens that expire kept fresh for runs longer than their life:
//! an EKS token is valid for 15 minutes, and creating a platform can take
//! longer than that. A background task fetches a new token well before the
//! current one expires, and a tower layer on the cluster's client puts the
//! current one on every request, so long waits and late resources never
//! meet an expired token.

use std::sync::{Arc, PoisonError, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use super::error::KubeError;
use http::{HeaderValue, Request};
use stack_engine::provider::{ClusterTarget, ProviderError};
use tower::{Layer, Service};

use super::client::TokenSource;

/// How often a token is replaced: well inside EKS's 15 minutes.
pub const REFRESH_EVERY: Duration = Duration::from_secs(5 * 60);
/// How soon a failed refresh is tried again (the current token stays).
const RETRY_AFTER: Duration = Duration::from_secs(20);

/// Puts the current token on every request of the client it wraps.
#[derive(Clone)]
pub struct BearerLayer {
    current: Arc<RwLock<HeaderValue>>,
    /// Why the last refresh failed, until one succeeds: the cause to name
    /// when the cluster later refuses the expired token.
    refresh_failure: Arc<RwLock<Option<String>>>,
}

impl BearerLayer {
    /// Fetches the first token for `target` and keeps replacing it every
    /// `every` for as long as a client built with the layer lives. `None`
    /// when the source has no token for this cluster.
    pub async fn start(
        tokens: Arc<dyn TokenSource>,
        target: &ClusterTarget,
        every: Duration,
    ) -> Result<Option<BearerLayer>, ProviderError> {
        let Some(token) = tokens.token(target).await? else {
            return Ok(None);
        };
        let current = Arc::new(RwLock::new(header(&token)?));
        let refresh_failure = Arc::new(RwLock::new(None));
        let held = Arc::downgrade(&current);
        let failure = refresh_failure.clone();
        let target = target.clone();
        tokio::spawn(async move {
            let mut wait = every;
            loop {
                tokio::time::sleep(wait).await;
                // The client is gone: nobody needs tokens any more.
                let Some(current) = held.upgrade() else { break };
                let fresh = match tokens.token(&target).await {
                    Ok(Some(token)) => header(&token),
                    Ok(None) => Err(KubeError::Token {
                        message: "no token was issued".into(),
                        help: None,
                    }
                    .into()),
                    Err(e) => Err(e),
                };
                let outcome = match fresh {
                    Ok(fresh) => {
                        *current.write().unwrap_or_else(PoisonError::into_inner) = fresh;
                        None
                    }
                    Err(e) => Some(e.message()),
                };
                wait = if outcome.is_none() {
                    every
                } else {
                    RETRY_AFTER.min(every)
                };
                *failure.write().unwrap_or_else(PoisonError::into_inner) = outcome;
            }
        });
        Ok(Some(BearerLayer {
            current,
            refresh_failure,
        }))
    }

    /// Why the token could not be renewed lately, if it could not.
    pub fn refresh_failure(&self) -> Option<String> {
        self.refresh_failure
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

fn header(token: &str) -> Result<HeaderValue, ProviderError> {
    let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| KubeError::Token {
            message: "a cluster token is not a valid HTTP header value".into(),
            help: Some("the token source returned text that cannot be sent; check the cloud credentials in use".into()),
        })?;
    value.set_sensitive(true);
    Ok(value)
}

impl<S> Layer<S> for BearerLayer {
    type Service = Bearer<S>;

    fn layer(&self, inner: S) -> Bearer<S> {
        Bearer {
            inner,
            current: self.current.clone(),
        }
    }
}

/// The service [`BearerLayer`] makes.
#[derive(Clone)]
pub struct Bearer<S> {
    inner: S,
    current: Arc<RwLock<HeaderValue>>,
}

impl<S, B> Service<Request<B>> for Bearer<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> S::Future {
        let value = self
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        request
            .headers_mut()
            .insert(http::header::AUTHORIZATION, value);
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use std::future::{ready, Ready};
    use std::sync::atomic::{AtomicUsize, Ordering};

    use stack_engine::state::backend::BoxFuture;

    use super::*;

    /// Hands out `token-1`, `token-2`, ...
    struct Counting(AtomicUsize);

    impl TokenSource for Counting {
        fn token<'a>(
            &'a self,
            _target: &'a ClusterTarget,
        ) -> BoxFuture<'a, Result<Option<String>, ProviderError>> {
            let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
            Box::pin(async move { Ok(Some(format!("token-{n}"))) })
        }
    }

    /// Hands out one token, then fails like expired credentials.
    struct Expiring(AtomicUsize);

    impl TokenSource for Expiring {
        fn token<'a>(
            &'a self,
            _target: &'a ClusterTarget,
        ) -> BoxFuture<'a, Result<Option<String>, ProviderError>> {
            let first = self.0.fetch_add(1, Ordering::SeqCst) == 0;
            Box::pin(async move {
                match first {
                    true => Ok(Some("only".to_string())),
                    false => Err(KubeError::Token {
                        message: "the SSO session has expired".into(),
                        help: None,
                    }
                    .into()),
                }
            })
        }
    }

    /// Answers each request with its Authorization header.
    struct Echo;

    impl Service<Request<()>> for Echo {
        type Response = String;
        type Error = std::convert::Infallible;
        type Future = Ready<Result<String, Self::Error>>;

        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: Request<()>) -> Self::Future {
            let auth = request.headers()[http::header::AUTHORIZATION]
                .to_str()
                .unwrap_or_default()
                .to_string();
            ready(Ok(auth))
        }
    }

    fn target() -> ClusterTarget {
        ClusterTarget {
            id: stack_engine::ResourceId::new("cluster/prod"),
            name: "prod".into(),
            inputs: serde_json::json!({ "provider": "eks" }),
            outputs: Default::default(),
        }
    }

    #[tokio::test]
    async fn requests_carry_the_token_of_the_moment() {
        let tokens = Arc::new(Counting(AtomicUsize::new(0)));
        let layer = BearerLayer::start(tokens.clone(), &target(), Duration::from_millis(40))
            .await
            .unwrap()
            .expect("a token");
        let mut service = layer.layer(Echo);
        assert_eq!(
            service.call(Request::new(())).await.unwrap(),
            "Bearer token-1"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        let later = service.call(Request::new(())).await.unwrap();
        assert_ne!(later, "Bearer token-1");
        assert!(later.starts_with("Bearer token-"), "{later}");

        // Once the client is gone, refreshing stops.
        drop(service);
        drop(layer);
        tokio::time::sleep(Duration::from_millis(60)).await;
        let stopped = tokens.0.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(tokens.0.load(Ordering::SeqCst), stopped);
    }

    #[tokio::test]
    async fn a_failed_renewal_keeps_the_token_and_says_why() {
        let layer = BearerLayer::start(
            Arc::new(Expiring(AtomicUsize::new(0))),
            &target(),
            Duration::from_millis(20),
        )
        .await
        .unwrap()
        .expect("a token");
        assert_eq!(layer.refresh_failure(), None);
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(
            layer.refresh_failure().as_deref(),
            Some("the SSO session has expired")
        );
        let mut service = layer.layer(Echo);
        assert_eq!(service.call(Request::new(())).await.unwrap(), "Bearer only");
    }
}
