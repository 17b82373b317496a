//! A bound listening socket handed to a child glance-api or glance-registry on fd 3 with
//! `LISTEN_FDS=1`, as systemd socket activation does (src/server/activation.rs). The test
//! binds `127.0.0.1:0` and so holds the port from the start: a port probed free and
//! released could be taken by a parallel test before the child bound it.

use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// A listening socket on `host` (an IP address) and a port the kernel picks.
pub fn bind(host: &str) -> TcpListener {
    TcpListener::bind((host, 0)).expect("bind a listening socket")
}

/// A listening socket on `addr` again (`host:port`), for a child restarted in place after
/// the previous one died (and its socket with it).
pub fn rebind(addr: &str) -> TcpListener {
    TcpListener::bind(addr).unwrap_or_else(|err| panic!("bind {addr} again: {err}"))
}

pub fn port(listener: &TcpListener) -> u16 {
    listener.local_addr().expect("local address").port()
}

/// Give the child `command` starts `listener` as its fd 3, with `LISTEN_FDS=1` (and no
/// `LISTEN_PID`: the child's pid is not known before the fork). Keep `listener` until the
/// child has been spawned; dropping it afterwards leaves the child the only holder.
pub fn hand_over<'a>(command: &'a mut Command, listener: &impl AsRawFd) -> &'a mut Command {
    let fd = listener.as_raw_fd();
    command
        .env("LISTEN_FDS", "1")
        .env_remove("LISTEN_PID")
        .env_remove("LISTEN_FDNAMES");
    // SAFETY: the closure runs in the forked child before exec and calls only dup2 and
    // fcntl, which are async-signal-safe, and allocates nothing. `fd` is open in the parent
    // (the caller holds `listener` until the spawn returns), so it is open in the child too.
    #[allow(unsafe_code)]
    unsafe {
        command.pre_exec(move || {
            // dup2 clears close-on-exec on the copy; a listener that is fd 3 already keeps
            // the flag std set on it, so clear that by hand.
            let done = if fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, 3)
            };
            if done == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}
