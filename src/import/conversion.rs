//! The `image_conversion` import plugin (Glance's `glance/async_/flows/plugins/
//! image_conversion.py`): imported data is converted to `image_conversion.output_format` with
//! `qemu-img` before it goes into the store, and the image's `disk_format` follows.
//!
//! Unsafe input is refused before `qemu-img` reads it: our own inspector must find exactly the
//! claimed format (GPT counts as raw; an ISO is never converted) and pass its safety checks
//! (`store::inspect`). Then `qemu-img info -f <claimed>` must agree about the format and show
//! no backing file, no external data file and, for VMDK, an allowed create-type. Every
//! `qemu-img` runs under `prlimit` (address space `memory_mb`; CPU seconds: Glance's 30 for
//! `info`, `timeout_seconds` for `convert`) and a wall clock, and is killed when the import
//! stops; the caller's heartbeat keeps the import alive meanwhile.

use std::ffi::OsStr;
use std::future::Future;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::process::Command;

use crate::config::ImageConversionSettings;
use crate::store::inspect::{inspect_file, Detection, Policy, Verdict};

/// Glance's `QEMU_IMG_PROC_LIMITS` CPU time for `qemu-img info`.
const INFO_CPU_SECONDS: u64 = 30;
/// Wall clock for `qemu-img info`.
const INFO_WALL: Duration = Duration::from_secs(60);
/// Of qemu-img's error output, at most this much goes into the task's message.
const STDERR_SHOWN: usize = 300;

/// What to convert to, within which bounds.
pub struct Conversion<'a> {
    pub settings: &'a ImageConversionSettings,
    pub policy: &'a Policy,
    /// `image_size_cap`: raw output of a larger virtual size is refused before converting.
    pub cap: u64,
}

/// What the plugin did.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The format the data is in now.
    pub disk_format: String,
    /// The converted data is at `dest`; false: the source was left as it is (already in the
    /// output format, or an ISO).
    pub converted: bool,
    /// The source's virtual size as `qemu-img info` reports it.
    pub virtual_size: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConversionError {
    /// The input is unsafe or not what it claims to be; it was not converted.
    #[error("{0}")]
    Refused(String),
    /// `qemu-img` failed or went past its bounds.
    #[error("{0}")]
    Failed(String),
    /// The heartbeat said to stop (the import lost its image).
    #[error("{0}")]
    Stopped(String),
}

use ConversionError::{Failed, Refused};

impl Conversion<'_> {
    /// Check `source` (claimed to be `disk_format`) and convert it into `dest` (which the
    /// caller removes afterwards). `touch` runs every `heartbeat` while `qemu-img` runs.
    pub async fn run<T, Fut>(
        &self,
        source: &Path,
        disk_format: &str,
        dest: &Path,
        heartbeat: Duration,
        mut touch: T,
    ) -> Result<Outcome, ConversionError>
    where
        T: FnMut() -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        let target = self.settings.output_format.as_str();
        let detected = self.inspect(source, disk_format).await?;
        if detected == "iso" {
            return Ok(Outcome {
                disk_format: disk_format.to_string(),
                converted: false,
                virtual_size: None,
            });
        }
        let info = self
            .qemu_img(
                "info",
                &[
                    "-f".as_ref(),
                    disk_format.as_ref(),
                    "--output=json".as_ref(),
                    source.as_os_str(),
                ],
                INFO_CPU_SECONDS,
                INFO_WALL,
                (source, dest),
                heartbeat,
                &mut touch,
            )
            .await?;
        let info: Value = serde_json::from_slice(&info)
            .map_err(|err| Failed(format!("qemu-img info gave no JSON: {err}")))?;
        self.check_info(&info, disk_format)?;
        let virtual_size = info.get("virtual-size").and_then(Value::as_u64);
        if disk_format == target {
            return Ok(Outcome {
                disk_format: target.to_string(),
                converted: false,
                virtual_size,
            });
        }
        if target == "raw" && virtual_size.is_some_and(|v| v > self.cap) {
            return Err(Refused(format!(
                "The image's virtual size ({} bytes) is larger than image_size_cap ({} bytes)",
                virtual_size.unwrap_or_default(),
                self.cap
            )));
        }
        let wall = Duration::from_secs(self.settings.timeout_seconds);
        self.qemu_img(
            "convert",
            &[
                "-f".as_ref(),
                disk_format.as_ref(),
                "-O".as_ref(),
                target.as_ref(),
                source.as_os_str(),
                dest.as_os_str(),
            ],
            self.settings.timeout_seconds,
            wall,
            (source, dest),
            heartbeat,
            &mut touch,
        )
        .await?;
        // What qemu-img wrote must be what was asked for (Glance inspects it too).
        let written = detect(dest).await?;
        if written != target {
            return Err(Failed(format!(
                "qemu-img convert wrote {written} data, not {target}"
            )));
        }
        Ok(Outcome {
            disk_format: target.to_string(),
            converted: true,
            virtual_size,
        })
    }

    /// Our inspector first: exactly the claimed format, and safe. The detected format.
    async fn inspect(&self, source: &Path, disk_format: &str) -> Result<String, ConversionError> {
        let detection = inspect_off_thread(source).await?;
        let detected = match detection.format_name() {
            Ok("gpt") => "raw",
            Ok(name) => name,
            Err(why) => {
                log::warn!("image conversion: format detection failed: {why}");
                return Err(Refused("Image format detection failed".into()));
            }
        };
        if detected == "iso" && disk_format != "iso" {
            log::warn!("image conversion: claimed {disk_format}, inspection found ISO");
            return Err(Refused("Image has disallowed configuration".into()));
        }
        if detected != disk_format {
            log::warn!("image conversion: claimed {disk_format}, inspection found {detected}");
            return Err(Refused("Image format mismatch".into()));
        }
        let strict = Policy {
            require_image_format_match: true,
            ..self.policy.clone()
        };
        if let Verdict::Refuse(refusal) = detection.verdict(disk_format, "bare", &strict) {
            log::warn!(
                "image conversion: {disk_format} input refused: {}",
                refusal.log
            );
            return Err(Refused("Image has disallowed configuration".into()));
        }
        Ok(detected.to_string())
    }

    /// Glance's checks of `qemu-img info`'s answer.
    fn check_info(&self, info: &Value, disk_format: &str) -> Result<(), ConversionError> {
        let format = info.get("format").and_then(Value::as_str).unwrap_or("");
        if format != disk_format {
            return Err(Refused("Image metadata disagrees about format".into()));
        }
        if info.get("backing-filename").is_some() {
            return Err(Refused(
                "QCOW images with backing files are not allowed".into(),
            ));
        }
        let specific = &info["format-specific"]["data"];
        if specific.get("data-file").is_some() {
            return Err(Refused(
                "QCOW images with data-file set are not allowed".into(),
            ));
        }
        if format == "vmdk" {
            let create_type = specific
                .get("create-type")
                .and_then(Value::as_str)
                .ok_or_else(|| Refused("Unable to determine VMDK create-type".into()))?;
            if !self
                .policy
                .vmdk_allowed_types
                .iter()
                .any(|t| t == create_type)
            {
                return Err(Refused("Invalid VMDK create-type specified".into()));
            }
        }
        Ok(())
    }

    /// Run `qemu-img VERB ARGS…` under prlimit and `wall`; its standard output.
    #[allow(clippy::too_many_arguments)]
    async fn qemu_img<T, Fut>(
        &self,
        verb: &str,
        args: &[&OsStr],
        cpu_seconds: u64,
        wall: Duration,
        (source, dest): (&Path, &Path),
        heartbeat: Duration,
        touch: &mut T,
    ) -> Result<Vec<u8>, ConversionError>
    where
        T: FnMut() -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        let memory = self.settings.memory_mb.saturating_mul(1024 * 1024);
        let child = Command::new("prlimit")
            .arg(format!("--as={memory}"))
            .arg(format!("--cpu={cpu_seconds}"))
            .arg("--")
            .arg(&self.settings.qemu_img)
            .arg(verb)
            .args(args)
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|err| Failed(format!("cannot run prlimit and qemu-img: {err}")))?;
        // Dropping the child (deadline, heartbeat stop, import dropped) kills it.
        let finished = child.wait_with_output();
        tokio::pin!(finished);
        let deadline = tokio::time::sleep(wall);
        tokio::pin!(deadline);
        let mut ticks = tokio::time::interval(heartbeat);
        ticks.tick().await;
        let output = loop {
            tokio::select! {
                output = &mut finished => break output,
                _ = &mut deadline => {
                    return Err(Failed(format!(
                        "qemu-img {verb} did not finish within {} seconds; stopped",
                        wall.as_secs()
                    )));
                }
                _ = ticks.tick() => touch().await.map_err(ConversionError::Stopped)?,
            }
        };
        let output = output.map_err(|err| Failed(format!("qemu-img {verb}: {err}")))?;
        if output.status.success() {
            return Ok(output.stdout);
        }
        if let Some(signal) = output.status.signal() {
            return Err(Failed(format!(
                "qemu-img {verb} was stopped by signal {signal} (image_conversion bounds: {} MiB, \
                 {cpu_seconds} CPU seconds)",
                self.settings.memory_mb
            )));
        }
        // The message without our folders.
        let stderr = String::from_utf8_lossy(&output.stderr)
            .replace(&dest.display().to_string(), "<converted data>")
            .replace(&source.display().to_string(), "<imported data>");
        let stderr: String = stderr.trim().chars().take(STDERR_SHOWN).collect();
        Err(Failed(format!("qemu-img {verb} failed: {stderr}")))
    }
}

async fn inspect_off_thread(path: &Path) -> Result<Detection, ConversionError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || inspect_file(&path))
        .await
        .map_err(|err| Failed(format!("inspection stopped: {err}")))?
        .map_err(|err| Failed(format!("cannot read the data: {err}")))
}

/// The format our inspector sees in a file (GPT as raw).
async fn detect(path: &Path) -> Result<String, ConversionError> {
    let detection = inspect_off_thread(path).await?;
    Ok(match detection.format_name() {
        Ok("gpt") => "raw".to_string(),
        Ok(name) => name.to_string(),
        Err(why) => why,
    })
}
