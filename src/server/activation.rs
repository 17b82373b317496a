//! A listening socket handed over at start, as systemd socket activation passes it
//! (sd_listen_fds(3)): `LISTEN_FDS=N` (N ≥ 1) sockets from fd 3 on, and `LISTEN_PID`, when
//! set, the process they are meant for. glance-api and glance-registry serve on fd 3 instead
//! of binding `server.bind` (docs/deployment.md, "Socket activation"). The tests hand over a
//! socket they bound on `127.0.0.1:0` the same way, so no port is probed, released and
//! then bound again by someone else.

use std::net::{SocketAddr, TcpListener};

/// The first handed-over descriptor (`SD_LISTEN_FDS_START`).
const FIRST_FD: i32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    #[error("LISTEN_FDS={0:?} is not a number of sockets (socket activation)")]
    BadCount(String),
    #[error("LISTEN_PID={0:?} is not a process id (socket activation)")]
    BadPid(String),
    #[error("LISTEN_FDS={count} but fd 3 {what}")]
    NotASocket { count: usize, what: String },
    #[error("the socket handed over on fd 3 (LISTEN_FDS) cannot be served: {0}")]
    Unusable(String),
}

/// The sockets handed to the process `our_pid`, from the values of `LISTEN_FDS` and
/// `LISTEN_PID`: none when `LISTEN_FDS` is unset or `LISTEN_PID` names another process.
fn handed_over(
    listen_fds: Option<&str>,
    listen_pid: Option<&str>,
    our_pid: u32,
) -> Result<usize, ActivationError> {
    let Some(fds) = listen_fds else {
        return Ok(0);
    };
    let count = fds
        .trim()
        .parse::<usize>()
        .map_err(|_| ActivationError::BadCount(fds.to_string()))?;
    if let Some(pid) = listen_pid {
        let pid = pid
            .trim()
            .parse::<u32>()
            .map_err(|_| ActivationError::BadPid(pid.to_string()))?;
        if pid != our_pid {
            return Ok(0);
        }
    }
    Ok(count)
}

/// The listening socket handed over on fd 3, if any; `LISTEN_FDS`, `LISTEN_PID` and
/// `LISTEN_FDNAMES` are removed from the environment either way, so no child process takes
/// them as its own. Call it before any other thread starts (it changes the environment).
pub fn take_inherited() -> Result<Option<(TcpListener, SocketAddr)>, ActivationError> {
    let var = |name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
    let (fds, pid) = (var("LISTEN_FDS"), var("LISTEN_PID"));
    for name in ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"] {
        std::env::remove_var(name);
    }
    let count = handed_over(fds.as_deref(), pid.as_deref(), std::process::id())?;
    if count == 0 {
        return Ok(None);
    }
    if count > 1 {
        log::warn!(
            "LISTEN_FDS={count}: serving on fd 3 only, the other {} sockets stay unused",
            count - 1
        );
    }
    check_open_socket(count)?;
    let socket = adopt_first_fd();
    let unusable = |err: std::io::Error| ActivationError::Unusable(err.to_string());
    if socket.r#type().map_err(unusable)? != socket2::Type::STREAM {
        return Err(ActivationError::Unusable("not a stream socket".into()));
    }
    #[cfg(target_os = "linux")]
    if !socket.is_listener().map_err(unusable)? {
        return Err(ActivationError::Unusable(
            "listen() was not called on it (a systemd .socket unit with Accept=yes hands over \
             connections, not the listener: use Accept=no)"
                .into(),
        ));
    }
    let addr = socket
        .local_addr()
        .map_err(unusable)?
        .as_socket()
        .ok_or_else(|| ActivationError::Unusable("not a TCP socket".into()))?;
    // Not inherited by our own children (qemu-img, …), which would keep the port open.
    socket.set_cloexec(true).map_err(unusable)?;
    // actix-web's acceptor polls the listener.
    socket.set_nonblocking(true).map_err(unusable)?;
    Ok(Some((socket.into(), addr)))
}

/// On Linux, that fd 3 is open and a socket, read from `/proc/self/fd` (skipped when /proc is
/// not mounted), so that no descriptor is adopted that is not there.
fn check_open_socket(count: usize) -> Result<(), ActivationError> {
    let fd_dir = std::path::Path::new("/proc/self/fd");
    if !fd_dir.is_dir() {
        return Ok(());
    }
    match std::fs::read_link(fd_dir.join(FIRST_FD.to_string())) {
        Ok(target) if target.to_string_lossy().starts_with("socket:") => Ok(()),
        Ok(target) => Err(ActivationError::NotASocket {
            count,
            what: format!("is {}, not a socket", target.display()),
        }),
        Err(_) => Err(ActivationError::NotASocket {
            count,
            what: "is not open".into(),
        }),
    }
}

/// Take ownership of fd 3.
#[allow(unsafe_code)]
fn adopt_first_fd() -> socket2::Socket {
    use std::os::fd::FromRawFd;
    // SAFETY: by the LISTEN_FDS protocol fd 3 was handed to this process for it to own, and
    // nothing else here opened, took or closes it (this runs once, before other threads
    // start); `check_open_socket` saw it open where /proc shows it.
    unsafe { socket2::Socket::from_raw_fd(FIRST_FD) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_sockets_meant_for_this_process() {
        assert_eq!(handed_over(None, None, 7).ok(), Some(0));
        assert_eq!(handed_over(Some("1"), None, 7).ok(), Some(1));
        assert_eq!(handed_over(Some("2"), Some("7"), 7).ok(), Some(2));
        assert_eq!(handed_over(Some("1"), Some("8"), 7).ok(), Some(0));
        assert_eq!(handed_over(Some("0"), None, 7).ok(), Some(0));
    }

    #[test]
    fn malformed_values_are_errors_that_name_them() {
        for bad in ["", "one", "-1", "1.5"] {
            let err = handed_over(Some(bad), None, 7).expect_err(bad);
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
        let err = handed_over(Some("1"), Some("self"), 7).expect_err("pid");
        assert!(err.to_string().contains("LISTEN_PID=\"self\""), "{err}");
    }
}
