//! The breadth-first walk: pages nearer the start first, at most
//! `concurrency` requests in flight, every URL fetched once, each link's
//! referring pages remembered so a dead link can name them. Redirects are
//! remembered too: a chain that comes back on itself, or runs longer than a
//! browser follows, is a dead link (a browser shows an error there).

use crate::fetch::{self, Fetched};
use crate::{DeadLink, WalkError, WalkOptions, WalkReport};
use std::collections::{BTreeMap, HashMap, VecDeque};
use tokio::task::JoinSet;
use url::Url;

/// A dead link names at most this many pages that link to it.
const MAX_REFERRERS: usize = 10;

/// Redirects in a row a browser follows before it gives up (Chromium: 20;
/// fewer here, as a chain that long is a mistake either way).
const MAX_REDIRECTS: usize = 10;

/// Walks as `options` says.
pub async fn walk_async(options: &WalkOptions) -> Result<WalkReport, WalkError> {
    let start = options.start.clone();
    crate::options::check_on_site(&options.site, &start)?;
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
    let mut redirects: HashMap<Url, (u16, Url)> = HashMap::new();
    let mut cut_pages = Vec::new();
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
            Ok(Fetched {
                status,
                redirect,
                links,
                cut,
            }) => {
                if cut {
                    cut_pages.push(url.to_string());
                }
                // A redirect is the same page under another name: no hop.
                let redirecting = (300..400).contains(&status);
                let next = if redirecting { depth } else { depth + 1 };
                if let (true, Some(target)) = (redirecting, &redirect) {
                    redirects.insert(url.clone(), (status, target.clone()));
                }
                let site = &options.site;
                let found = redirect.into_iter().chain(links);
                for link in found.filter(|link| same_site(site, link)) {
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
    for (url, (status, problem)) in endless_redirects(&redirects) {
        dead.insert(url, (Some(status), problem));
    }
    cut_pages.sort();
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
        cut_pages,
    })
}

/// Same scheme, host and port as the site.
fn same_site(site: &Url, link: &Url) -> bool {
    link.origin() == site.origin()
}

/// Each redirecting URL whose chain of redirects (as far as the walk
/// fetched it) comes back on itself or runs past [`MAX_REDIRECTS`], with
/// its own status and why it is dead. A chain that ends at a page, leaves
/// the site or was not fetched is not judged here.
fn endless_redirects(redirects: &HashMap<Url, (u16, Url)>) -> Vec<(String, (u16, String))> {
    let mut endless = Vec::new();
    for (from, (status, _)) in redirects {
        let mut chain = vec![from];
        while let Some((_, next)) = redirects.get(chain[chain.len() - 1]) {
            if chain.contains(&next) {
                chain.push(next);
                let names: Vec<&str> = chain.iter().map(|url| url.as_str()).collect();
                let problem = format!("redirect loop: {}", names.join(" -> "));
                endless.push((from.to_string(), (*status, problem)));
                break;
            }
            if chain.len() > MAX_REDIRECTS {
                let problem = format!("too many redirects (more than {MAX_REDIRECTS} in a row)");
                endless.push((from.to_string(), (*status, problem)));
                break;
            }
            chain.push(next);
        }
    }
    endless
}
