//! The breadth-first walk: pages nearer the start first, at most
//! `concurrency` requests in flight, every URL fetched once, each link's
//! referring pages remembered so a dead link can name them.

use crate::fetch::{self, Fetched};
use crate::{DeadLink, WalkError, WalkOptions, WalkReport};
use std::collections::{BTreeMap, HashMap, VecDeque};
use tokio::task::JoinSet;
use url::Url;

/// A dead link names at most this many pages that link to it.
const MAX_REFERRERS: usize = 10;

/// Walks as `options` says.
pub async fn walk_async(options: &WalkOptions) -> Result<WalkReport, WalkError> {
    let start = options.start.clone();
    if start.scheme() != "http" {
        return Err(WalkError::BadStart {
            url: start.to_string(),
            reason: format!(
                "the walk speaks plain HTTP, not `{}`; walk the site's plain-HTTP listener",
                start.scheme()
            ),
        });
    }
    if start.host_str().is_none() {
        return Err(WalkError::BadStart {
            url: start.to_string(),
            reason: "it names no host".to_owned(),
        });
    }
    let client = fetch::client();
    let mut referrers: HashMap<Url, Vec<String>> = HashMap::from([(start.clone(), Vec::new())]);
    let mut queue = VecDeque::from([(start.clone(), 0u32)]);
    let mut tasks = JoinSet::new();
    let mut sent = 0usize;
    let mut truncated = false;
    let mut dead: BTreeMap<String, (Option<u16>, String)> = BTreeMap::new();
    loop {
        while tasks.len() < options.concurrency.max(1) {
            let Some((url, depth)) = queue.pop_front() else {
                break;
            };
            if sent >= options.max_pages {
                truncated = true;
                queue.clear();
                break;
            }
            sent += 1;
            let client = client.clone();
            let headers = options.headers.clone();
            let timeout = options.timeout;
            let read_links = depth < options.depth;
            tasks.spawn(async move {
                let fetched = fetch::get(&client, &url, &headers, timeout, read_links).await;
                (url, depth, fetched)
            });
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        let Ok((url, depth, fetched)) = joined else {
            continue;
        };
        match fetched {
            Ok(Fetched { status, .. }) if status >= 400 => {
                dead.insert(
                    url.to_string(),
                    (Some(status), format!("answered {status}")),
                );
            }
            Ok(Fetched { status, links }) => {
                // A redirect is the same page under another name: no hop.
                let next = if (300..400).contains(&status) {
                    depth
                } else {
                    depth + 1
                };
                for link in links.into_iter().filter(|link| same_site(&start, link)) {
                    let from = url.to_string();
                    match referrers.get_mut(&link) {
                        Some(pages) => {
                            if pages.len() < MAX_REFERRERS && !pages.contains(&from) {
                                pages.push(from);
                            }
                        }
                        None => {
                            referrers.insert(link.clone(), vec![from]);
                            queue.push_back((link, next));
                        }
                    }
                }
            }
            Err(problem) => {
                dead.insert(url.to_string(), (None, problem));
            }
        }
    }
    let dead = dead
        .into_iter()
        .map(|(url, (status, problem))| {
            let linked_from = url
                .parse::<Url>()
                .ok()
                .and_then(|parsed| referrers.get(&parsed).cloned())
                .unwrap_or_default();
            DeadLink {
                url,
                status,
                problem,
                linked_from,
            }
        })
        .collect();
    Ok(WalkReport {
        start: start.to_string(),
        pages: sent,
        dead,
        truncated,
    })
}

/// Same scheme, host and port as the start page.
fn same_site(start: &Url, link: &Url) -> bool {
    link.scheme() == start.scheme()
        && link.host_str() == start.host_str()
        && link.port_or_known_default() == start.port_or_known_default()
}
