//! GPT/MBR partition tables: a boot sector with the 0x55AA signature (and not a FAT boot
//! sector) is a partitioned disk; its four MBR entries must be sane, and a protective GPT
//! entry must be the only one and start at LBA 1.

use super::fixed::Header;
use super::region::{le_u16, le_u32};
use super::Violation;

const ENTRIES: usize = 446;
const GPT_PROTECTIVE: u8 = 0xee;

pub struct Gpt;

fn is_fat(data: &[u8]) -> bool {
    data.get(0x10) == Some(&2) && data.get(0x15) == Some(&0xf8)
}

fn check_entries(data: &[u8]) -> Result<(), String> {
    let mut used = Vec::new();
    let mut protective = false;
    for i in 0..4 {
        let entry = data
            .get(ENTRIES + 16 * i..ENTRIES + 16 * (i + 1))
            .unwrap_or(&[]);
        let byte = |at: usize| entry.get(at).copied().unwrap_or(0);
        if !matches!(byte(0), 0x00 | 0x80) {
            return Err(format!("MBR PTE {i} has invalid boot flag"));
        }
        let kind = byte(4);
        if kind != 0 {
            used.push(i);
        }
        if kind == GPT_PROTECTIVE {
            protective = true;
            if (byte(1), byte(2), byte(3)) != (0x00, 0x02, 0x00) {
                return Err("GPT MBR has invalid start CHS".into());
            }
            if le_u32(entry, 8) != 1 {
                return Err("GPT MBR has invalid start LBA".into());
            }
        }
    }
    if protective && used != [0] {
        return Err("GPT MBR defines invalid extra partitions".into());
    }
    if used.is_empty() {
        return Err("GPT MBR has no partitions defined".into());
    }
    Ok(())
}

impl Header for Gpt {
    const NAME: &'static str = "gpt";
    const LEN: usize = 512;

    fn matches(data: &[u8], complete: bool) -> bool {
        complete && le_u16(data, 510) == 0xaa55 && !is_fat(data)
    }

    fn virtual_size(_data: &[u8], total: u64) -> u64 {
        total
    }

    fn safety(data: &[u8]) -> Vec<Violation> {
        match check_entries(data) {
            Ok(()) => Vec::new(),
            Err(reason) => vec![Violation::new("mbr", reason)],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixed::Fixed;
    use super::super::tests::checks_of;
    use super::super::Format;
    use super::*;

    fn mbr(entries: &[(u8, u8, [u8; 3], u32)]) -> Vec<u8> {
        let mut s = vec![0u8; 512];
        for (i, (boot, kind, chs, lba)) in entries.iter().enumerate() {
            let e = ENTRIES + 16 * i;
            s[e] = *boot;
            s[e + 1..e + 4].copy_from_slice(chs);
            s[e + 4] = *kind;
            s[e + 8..e + 12].copy_from_slice(&lba.to_le_bytes());
        }
        s[510] = 0x55;
        s[511] = 0xaa;
        s
    }

    fn fed(bytes: &[u8]) -> Fixed<Gpt> {
        let mut g = Fixed::new();
        g.feed(0, bytes).expect("feed");
        g
    }

    #[test]
    fn protective_and_plain_mbrs_pass() {
        let g = fed(&mbr(&[(0, 0xee, [0, 2, 0], 1)]));
        assert!(g.matches());
        assert!(checks_of(&g).is_empty());
        assert!(checks_of(&fed(&mbr(&[
            (0x80, 0x83, [1, 1, 0], 2048),
            (0, 0x82, [0; 3], 9)
        ])))
        .is_empty());
    }

    #[test]
    fn insane_tables_fail() {
        assert_eq!(checks_of(&fed(&mbr(&[(7, 0x83, [0; 3], 1)]))), ["mbr"]);
        assert_eq!(checks_of(&fed(&mbr(&[]))), ["mbr"]);
        assert_eq!(checks_of(&fed(&mbr(&[(0, 0xee, [0, 2, 0], 2)]))), ["mbr"]);
        let extra = mbr(&[(0, 0xee, [0, 2, 0], 1), (0, 0x83, [0; 3], 5)]);
        assert_eq!(checks_of(&fed(&extra)), ["mbr"]);
    }

    #[test]
    fn a_fat_boot_sector_is_not_a_partition_table() {
        let mut s = mbr(&[(0, 0x83, [0; 3], 1)]);
        s[0x10] = 2;
        s[0x15] = 0xf8;
        assert!(!fed(&s).matches());
    }
}
