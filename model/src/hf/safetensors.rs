//! The safetensors format, read and written by hand (burn's `store` feature is not enabled):
//! an 8-byte little-endian header length, a JSON header
//! `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {..}}`, then the raw
//! little-endian data, offsets relative to the end of the header.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::ModelError;

/// Element types kiln reads; everything is converted to f32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    F32,
    F16,
    BF16,
}

impl Dtype {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "F32" => Some(Self::F32),
            "F16" => Some(Self::F16),
            "BF16" => Some(Self::BF16),
            _ => None,
        }
    }

    /// The name in a safetensors header.
    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "F32",
            Self::F16 => "F16",
            Self::BF16 => "BF16",
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Self::F32 => 4,
            Self::F16 | Self::BF16 => 2,
        }
    }
}

/// Where one tensor lies in its file.
#[derive(Debug, Clone)]
pub struct TensorInfo {
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    /// Absolute byte range in the file.
    begin: u64,
    end: u64,
}

/// The header of one safetensors file; tensors are read one at a time on demand, so a large
/// checkpoint never sits in memory twice.
#[derive(Debug)]
pub struct SafetensorsFile {
    path: PathBuf,
    tensors: BTreeMap<String, TensorInfo>,
}

impl SafetensorsFile {
    /// Reads and checks the header: every tensor's byte range must match its dtype and shape
    /// and lie inside the file.
    pub fn open(path: &Path) -> Result<Self, ModelError> {
        let err = |reason: String| ModelError::Checkpoint {
            path: path.to_path_buf(),
            reason,
        };
        let mut file = File::open(path).map_err(|e| err(e.to_string()))?;
        let file_len = file.metadata().map_err(|e| err(e.to_string()))?.len();
        let mut len = [0u8; 8];
        file.read_exact(&mut len)
            .map_err(|_| err("truncated safetensors file: no header length".into()))?;
        let header_len = u64::from_le_bytes(len);
        if header_len > file_len.saturating_sub(8) {
            return Err(err(format!(
                "truncated safetensors file: the header claims {header_len} bytes, the file has {file_len}"
            )));
        }
        let mut header = vec![0u8; header_len as usize];
        file.read_exact(&mut header)
            .map_err(|e| err(e.to_string()))?;
        let header: Map<String, Value> = serde_json::from_slice(&header)
            .map_err(|e| err(format!("malformed safetensors header: {e}")))?;
        let data_start = 8 + header_len;
        let mut tensors = BTreeMap::new();
        for (name, entry) in header {
            if name == "__metadata__" {
                continue;
            }
            let info = parse_entry(&entry, data_start)
                .map_err(|reason| err(format!("tensor '{name}': {reason}")))?;
            if info.end > file_len {
                return Err(err(format!(
                    "truncated safetensors file: tensor '{name}' ends at byte {}, the file has {file_len}",
                    info.end
                )));
            }
            tensors.insert(name, info);
        }
        Ok(Self {
            path: path.to_path_buf(),
            tensors,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Names and layouts of the tensors in the file.
    pub fn tensors(&self) -> &BTreeMap<String, TensorInfo> {
        &self.tensors
    }

    /// The values of tensor `name`, converted to f32, and its shape.
    pub fn read_f32(&self, name: &str) -> Result<(Vec<f32>, Vec<usize>), ModelError> {
        let err = |reason: String| ModelError::Checkpoint {
            path: self.path.clone(),
            reason,
        };
        let info = self
            .tensors
            .get(name)
            .ok_or_else(|| err(format!("no tensor '{name}'")))?;
        let mut bytes = vec![0u8; (info.end - info.begin) as usize];
        let mut file = File::open(&self.path).map_err(|e| err(e.to_string()))?;
        file.seek(SeekFrom::Start(info.begin))
            .and_then(|_| file.read_exact(&mut bytes))
            .map_err(|e| err(format!("tensor '{name}': {e}")))?;
        Ok((to_f32(&bytes, info.dtype), info.shape.clone()))
    }
}

fn parse_entry(entry: &Value, data_start: u64) -> Result<TensorInfo, String> {
    let dtype_name = entry["dtype"].as_str().ok_or("no dtype")?;
    let dtype = Dtype::parse(dtype_name)
        .ok_or_else(|| format!("dtype {dtype_name} is not supported (F32, F16, BF16)"))?;
    let shape = entry["shape"]
        .as_array()
        .ok_or("no shape")?
        .iter()
        .map(|d| d.as_u64().map(|d| d as usize).ok_or("bad shape"))
        .collect::<Result<Vec<_>, _>>()?;
    let offsets = entry["data_offsets"].as_array().ok_or("no data_offsets")?;
    let (Some(begin), Some(end)) = (
        offsets.first().and_then(Value::as_u64),
        offsets.get(1).and_then(Value::as_u64),
    ) else {
        return Err("bad data_offsets".into());
    };
    let bytes = shape.iter().product::<usize>() * dtype.size();
    if end < begin || (end - begin) as usize != bytes {
        return Err(format!(
            "data_offsets [{begin}, {end}] do not hold {dtype_name} {shape:?} ({bytes} bytes)"
        ));
    }
    Ok(TensorInfo {
        dtype,
        shape,
        begin: data_start + begin,
        end: data_start + end,
    })
}

/// Little-endian values of `dtype` as f32.
fn to_f32(bytes: &[u8], dtype: Dtype) -> Vec<f32> {
    match dtype {
        Dtype::F32 => bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Dtype::BF16 => bytes
            .chunks_exact(2)
            .map(|b| f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16))
            .collect(),
        Dtype::F16 => bytes
            .chunks_exact(2)
            .map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]])))
            .collect(),
    }
}

/// IEEE 754 half → single precision (exact; subnormals, infinities and NaN included).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let man = (h & 0x3ff) as u32;
    let bits = match (exp, man) {
        (0, 0) => sign,
        // Subnormal: value = man · 2^-24.
        (0, _) => return sign_of(h) * man as f32 * 2f32.powi(-24),
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, _) => sign | 0x7fc0_0000 | (man << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (man << 13),
    };
    f32::from_bits(bits)
}

fn sign_of(h: u16) -> f32 {
    if h >> 15 == 1 { -1.0 } else { 1.0 }
}

/// f32 → bfloat16 bits, rounding to nearest even (NaN stays NaN).
pub fn f32_to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        return ((bits >> 16) | 0x40) as u16;
    }
    let round = 0x7fff + ((bits >> 16) & 1);
    ((bits + round) >> 16) as u16
}

/// One tensor to write: row-major f32 values and their shape.
pub struct OutTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// Writes `tensors` (in the given order) as one safetensors file in `dtype` (F32 or BF16),
/// atomically ([`kiln_fsutil::AtomicFile`]: a failed export leaves no partial file).
pub fn write(path: &Path, tensors: &[OutTensor], dtype: Dtype) -> Result<(), ModelError> {
    let err = |reason: String| ModelError::Checkpoint {
        path: path.to_path_buf(),
        reason,
    };
    if dtype == Dtype::F16 {
        return Err(err("writing F16 is not supported; use F32 or BF16".into()));
    }
    let mut header = Map::new();
    let mut offset = 0usize;
    for t in tensors {
        let bytes = t.values.len() * dtype.size();
        header.insert(
            t.name.clone(),
            serde_json::json!({
                "dtype": dtype.name(),
                "shape": t.shape,
                "data_offsets": [offset, offset + bytes],
            }),
        );
        offset += bytes;
    }
    header.insert("__metadata__".into(), serde_json::json!({ "format": "pt" }));
    let mut header = serde_json::to_vec(&Value::Object(header)).expect("header serialises");
    // Pad with spaces so the data starts 8-byte aligned, as the reference writer does.
    while (8 + header.len()) % 8 != 0 {
        header.push(b' ');
    }
    let write = || -> std::io::Result<()> {
        let mut out = kiln_fsutil::AtomicFile::create(path)?;
        out.write_all(&(header.len() as u64).to_le_bytes())?;
        out.write_all(&header)?;
        for t in tensors {
            for &v in &t.values {
                match dtype {
                    Dtype::BF16 => out.write_all(&f32_to_bf16(v).to_le_bytes())?,
                    _ => out.write_all(&v.to_le_bytes())?,
                }
            }
        }
        out.commit()
    };
    write().map_err(|e| err(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_and_bfloat_conversions() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x8001), -(2f32.powi(-24)));
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
        assert!(f16_to_f32(0x7e00).is_nan());
        assert_eq!(f32_to_bf16(1.0), 0x3f80);
        // 1 + 2^-8 is halfway between two bf16 values: ties go to the even one (1.0).
        assert_eq!(f32_to_bf16(1.0 + 2f32.powi(-8)), 0x3f80);
        assert_eq!(f32_to_bf16(1.0 + 3.0 * 2f32.powi(-8)), 0x3f82);
    }

    #[test]
    fn written_files_read_back() {
        let dir = std::env::temp_dir().join(format!("kiln-st-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.safetensors");
        let tensors = vec![
            OutTensor {
                name: "a".into(),
                shape: vec![2, 3],
                values: vec![1.0, -2.5, 3.0, 0.0, 1e-3, 7.0],
            },
            OutTensor {
                name: "b".into(),
                shape: vec![1],
                values: vec![0.1],
            },
        ];
        write(&path, &tensors, Dtype::F32).unwrap();
        let file = SafetensorsFile::open(&path).unwrap();
        assert_eq!(
            file.read_f32("a").unwrap(),
            (tensors[0].values.clone(), vec![2, 3])
        );
        assert_eq!(file.read_f32("b").unwrap().0, vec![0.1]);
        write(&path, &tensors, Dtype::BF16).unwrap();
        let file = SafetensorsFile::open(&path).unwrap();
        assert_eq!(file.tensors()["a"].dtype, Dtype::BF16);
        assert_eq!(file.read_f32("a").unwrap().0[1], -2.5);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
