//! `podid agent init`: puts the pod identity addresses on a link of the node, over netlink.
//!
//! Pods reach the agent at `169.254.170.23` and `[fd00:ec2::23]`. Those addresses must be on a
//! link of the node (the agent runs on the host network) with a route pointing at it. By default a
//! `dummy` link is created for them, as the AWS agent does; kernels built without the `dummy`
//! link type need an existing link instead (`--link lo`, or a veth). Every step is idempotent, so
//! init can run at each agent start. IPv4 failures are fatal; IPv6 ones are reported as warnings,
//! since many nodes run without IPv6.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use futures_util::TryStreamExt;
use rtnetlink::{Handle, LinkDummy, LinkUnspec, RouteMessageBuilder};

pub const POD_IDENTITY_IPV4: Ipv4Addr = Ipv4Addr::new(169, 254, 170, 23);
pub const POD_IDENTITY_IPV6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23);
pub const DEFAULT_LINK: &str = "pod-id-link0";

const EEXIST: i32 = 17;
const EOPNOTSUPP: i32 = 95;

/// Which link carries the addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkChoice {
    /// Create a `dummy` link of this name unless it exists.
    Dummy(String),
    /// Use this existing link.
    Existing(String),
}

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("cannot open a netlink socket: {0}")]
    Socket(io::Error),
    #[error(
        "this kernel has no `dummy` link type, so link {0} cannot be created: rerun with \
         --link NAME to use an existing link instead (for example --link lo)"
    )]
    NoDummyLinkType(String),
    #[error("no link named {0} exists: pass an existing link to --link")]
    NoSuchLink(String),
    #[error("{step}: {source}")]
    Netlink { step: String, source: io::Error },
}

/// What init did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitReport {
    pub link: String,
    pub link_created: bool,
    /// IPv6 steps that failed, each with its reason.
    pub ipv6_warnings: Vec<String>,
}

pub async fn init(choice: LinkChoice) -> Result<InitReport, InitError> {
    let (connection, handle, _) = rtnetlink::new_connection().map_err(InitError::Socket)?;
    tokio::spawn(connection);

    let (name, index, link_created) = resolve_link(&handle, &choice).await?;
    handle
        .link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
        .map_err(|e| netlink(format!("setting link {name} up"), &e))?;

    add_address(&handle, index, &name, IpAddr::V4(POD_IDENTITY_IPV4)).await?;
    let ipv6_warnings =
        match add_address(&handle, index, &name, IpAddr::V6(POD_IDENTITY_IPV6)).await {
            Ok(()) => Vec::new(),
            Err(error) => vec![error.to_string()],
        };
    Ok(InitReport {
        link: name,
        link_created,
        ipv6_warnings,
    })
}

async fn resolve_link(
    handle: &Handle,
    choice: &LinkChoice,
) -> Result<(String, u32, bool), InitError> {
    match choice {
        LinkChoice::Existing(name) => {
            let index = find_link(handle, name).await?;
            let index = index.ok_or_else(|| InitError::NoSuchLink(name.clone()))?;
            Ok((name.clone(), index, false))
        }
        LinkChoice::Dummy(name) => {
            if let Some(index) = find_link(handle, name).await? {
                return Ok((name.clone(), index, false));
            }
            let created = handle
                .link()
                .add(LinkDummy::new(name).build())
                .execute()
                .await;
            match created {
                Err(error) if errno(&error) == Some(EOPNOTSUPP) => {
                    return Err(InitError::NoDummyLinkType(name.clone()));
                }
                Err(error) => return Err(netlink(format!("creating dummy link {name}"), &error)),
                Ok(()) => {}
            }
            let index = find_link(handle, name).await?;
            let index = index.ok_or_else(|| InitError::NoSuchLink(name.clone()))?;
            Ok((name.clone(), index, true))
        }
    }
}

async fn find_link(handle: &Handle, name: &str) -> Result<Option<u32>, InitError> {
    let mut links = handle.link().get().match_name(name.to_owned()).execute();
    match links.try_next().await {
        Ok(link) => Ok(link.map(|link| link.header.index)),
        // The kernel answers ENODEV for a name it does not know.
        Err(error) if errno(&error) == Some(19) => Ok(None),
        Err(error) => Err(netlink(format!("looking up link {name}"), &error)),
    }
}

/// Adds `address` as a host address on the link, and a host route to it; both may exist.
async fn add_address(
    handle: &Handle,
    index: u32,
    link: &str,
    address: IpAddr,
) -> Result<(), InitError> {
    let prefix = if address.is_ipv4() { 32 } else { 128 };
    let added = handle.address().add(index, address, prefix).execute().await;
    ignore_exists(added)
        .map_err(|e| netlink(format!("adding {address}/{prefix} to {link}"), &e))?;

    let route = match address {
        IpAddr::V4(v4) => RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(v4, 32)
            .output_interface(index)
            .build(),
        IpAddr::V6(v6) => RouteMessageBuilder::<Ipv6Addr>::new()
            .destination_prefix(v6, 128)
            .output_interface(index)
            .build(),
    };
    let routed = handle.route().add(route).execute().await;
    ignore_exists(routed).map_err(|e| netlink(format!("routing {address} to {link}"), &e))
}

fn ignore_exists(result: Result<(), rtnetlink::Error>) -> Result<(), rtnetlink::Error> {
    match result {
        Err(error) if errno(&error) == Some(EEXIST) => Ok(()),
        other => other,
    }
}

fn errno(error: &rtnetlink::Error) -> Option<i32> {
    match error {
        rtnetlink::Error::NetlinkError(message) => message.to_io().raw_os_error(),
        _ => None,
    }
}

fn netlink(step: String, error: &rtnetlink::Error) -> InitError {
    let source = match error {
        rtnetlink::Error::NetlinkError(message) => message.to_io(),
        other => io::Error::other(other.to_string()),
    };
    InitError::Netlink { step, source }
}
