//! How devices talk: the fast fabric inside a domain (NVLink/NVSwitch,
//! Infinity Fabric, TPU ICI) and the network between domains, per catalog
//! device, with the bus bandwidth NCCL's all-reduce reaches by message size.
//! Sources are in `LINKS` and `docs/devices-and-grid.md`.

use crate::device::Links;

/// NCCL all-reduce bus bandwidth as a fraction of its large-message value, by
/// message size in bytes: Azure AI-benchmarking-guide, ND H200 v5 (NVLS
/// algorithm, 8 GPUs; 479.98 GB/s at 8 GB) and ND A100 v4 (231.58 GB/s at
/// 8 GB) results tables, in-place all-reduce from 1 KB to 8 GB.
pub const BUSBW_NVLS: &[(f64, f64)] = &[
    (1e3, 0.06 / 479.98),
    (65e3, 3.72 / 479.98),
    (1e6, 52.96 / 479.98),
    (4e6, 138.44 / 479.98),
    (16e6, 240.41 / 479.98),
    (67e6, 368.11 / 479.98),
    (268e6, 432.24 / 479.98),
    (1e9, 467.58 / 479.98),
    (8e9, 1.0),
];
pub const BUSBW_RING: &[(f64, f64)] = &[
    (1e3, 0.04 / 231.58),
    (65e3, 2.70 / 231.58),
    (1e6, 36.22 / 231.58),
    (4e6, 71.43 / 231.58),
    (16e6, 109.22 / 231.58),
    (67e6, 166.63 / 231.58),
    (268e6, 213.87 / 231.58),
    (1e9, 228.10 / 231.58),
    (8e9, 1.0),
];

/// The fraction of the large-message bus bandwidth at `bytes` (log-linear interpolation).
pub fn busbw_fraction(curve: &[(f64, f64)], bytes: f64) -> f64 {
    let Some(&(first_s, first_f)) = curve.first() else {
        return 1.0;
    };
    if bytes <= first_s {
        return first_f * bytes.max(1.0) / first_s;
    }
    for w in curve.windows(2) {
        let ((s0, f0), (s1, f1)) = (w[0], w[1]);
        if bytes <= s1 {
            let x = (bytes.ln() - s0.ln()) / (s1.ln() - s0.ln());
            return f0 + x * (f1 - f0);
        }
    }
    curve.last().map_or(1.0, |x| x.1)
}

/// Achieved / line rate of NCCL over InfiniBand or RoCE between nodes
/// (assumption: about 0.85 of the NICs' line rate at large messages).
pub const NETWORK_EFFICIENCY: f64 = 0.85;
/// The large-message all-reduce bus bandwidth of NVLink 3 / 4 relative to
/// the per-direction link bandwidth: 231.58 / 300 GB/s (A100) and, with
/// NVLS in-switch reduction, 479.98 / 450 GB/s (H200).
pub const RING_EFFICIENCY: f64 = 231.58 / 300.0;

struct Entry {
    ids: &'static [&'static str],
    domain: u32,
    /// Large all-reduce bus bandwidth inside the domain, GB/s per device.
    intra_gbs: f64,
    /// Line rate of the network per device, GB/s.
    network_gbs: f64,
    nvls: bool,
}

const E8_NDR: f64 = 50.0; // 8 x 400 Gb/s NICs for 8 GPUs
const E8_HDR: f64 = 25.0; // 8 x 200 Gb/s
const E8_EDR4: f64 = 6.25; // 4 x 100 Gb/s for 8 GPUs (DGX-1)
const PCIE_NODE: f64 = 100.0 / 8.0 / 8.0; // one 100 Gb/s NIC shared by 8 GPUs

static LINKS: &[Entry] = &[
    // DGX H100 / HGX H200: NVLink 4 + NVSwitch, 8 x 400 Gb/s ConnectX-7
    Entry {
        ids: &["h100-sxm", "h200-sxm"],
        domain: 8,
        intra_gbs: 479.98,
        network_gbs: E8_NDR,
        nvls: true,
    },
    // H800 HGX: NVLink cut to 200 GB/s per direction (400 GB/s bidirectional), a ring at
    // A100's ring efficiency (DeepSeek-V3 measured about 160 GB/s); 8 x 400 Gb/s CX7
    Entry {
        ids: &["h800"],
        domain: 8,
        intra_gbs: 200.0 * RING_EFFICIENCY,
        network_gbs: E8_NDR,
        nvls: false,
    },
    // DGX B200: NVLink 5 (twice NVLink 4's bandwidth), 8 x 400 Gb/s
    Entry {
        ids: &["b200"],
        domain: 8,
        intra_gbs: 2.0 * 479.98,
        network_gbs: E8_NDR,
        nvls: true,
    },
    // GB200 NVL72: one NVLink 5 domain of 72 GPUs
    Entry {
        ids: &["gb200"],
        domain: 72,
        intra_gbs: 2.0 * 479.98,
        network_gbs: E8_NDR,
        nvls: true,
    },
    // DGX A100: NVLink 3 + NVSwitch, 8 x 200 Gb/s HDR
    Entry {
        ids: &["a100-sxm-40gb", "a100-sxm-80gb"],
        domain: 8,
        intra_gbs: 231.58,
        network_gbs: E8_HDR,
        nvls: false,
    },
    // DGX-1 (V100): NVLink 2 hybrid cube-mesh, 150 GB/s per direction, 4 x 100 Gb/s EDR
    Entry {
        ids: &["v100-sxm2-16gb", "v100-sxm2-32gb"],
        domain: 8,
        intra_gbs: 150.0 * RING_EFFICIENCY,
        network_gbs: E8_EDR4,
        nvls: false,
    },
    // MI300X: 7 Infinity Fabric links of 64 GB/s per direction; 8 x 400 Gb/s
    Entry {
        ids: &["mi300x"],
        domain: 8,
        intra_gbs: 448.0 * RING_EFFICIENCY,
        network_gbs: E8_NDR,
        nvls: false,
    },
    // MI250X (Frontier nodes, 4 packages of 2 GCDs): Infinity Fabric links of 50 GB/s per
    // direction, four between a package's GCDs but one or two between packages (Pearson
    // 2023), so a ring across packages runs at the dual-link 100 GB/s; one 200 Gb/s
    // Slingshot NIC per package
    Entry {
        ids: &["mi250x"],
        domain: 4,
        intra_gbs: 100.0 * RING_EFFICIENCY,
        network_gbs: 25.0,
        nvls: false,
    },
    // PCIe cards: PCIe Gen5 / Gen4 / Gen3 x16 through the host, one 100 Gb/s NIC per node
    Entry {
        ids: &["h100-pcie", "h100-nvl"],
        domain: 8,
        intra_gbs: 64.0 * RING_EFFICIENCY,
        network_gbs: PCIE_NODE,
        nvls: false,
    },
    Entry {
        ids: &[
            "a100-pcie-40gb",
            "a100-pcie-80gb",
            "a10",
            "a10g",
            "l4",
            "l40s",
            "rtx-3090",
            "rtx-4090",
        ],
        domain: 8,
        intra_gbs: 32.0 * RING_EFFICIENCY,
        network_gbs: PCIE_NODE,
        nvls: false,
    },
    Entry {
        ids: &["v100-pcie-16gb", "v100-pcie-32gb", "t4"],
        domain: 8,
        intra_gbs: 16.0 * RING_EFFICIENCY,
        network_gbs: PCIE_NODE,
        nvls: false,
    },
    // TPU ICI: a slice is one domain. v4: Google's all-reduce bandwidth per pod, 1.1 PB/s
    // over 4,096 chips (already an all-reduce figure); v5e 1,600 Gb/s and v5p 4,800 Gb/s
    // of ICI per chip. Between slices (data-centre network): 200 Gb/s per chip (assumption)
    Entry {
        ids: &["tpu-v4"],
        domain: 4096,
        intra_gbs: 1.1e6 / 4096.0,
        network_gbs: 25.0,
        nvls: false,
    },
    Entry {
        ids: &["tpu-v5e"],
        domain: 256,
        intra_gbs: 200.0 * RING_EFFICIENCY,
        network_gbs: 25.0,
        nvls: false,
    },
    Entry {
        ids: &["tpu-v5p"],
        domain: 8960,
        intra_gbs: 600.0 * RING_EFFICIENCY,
        network_gbs: 25.0,
        nvls: false,
    },
];

/// Sources of the link figures (shown with a profile).
pub const SOURCES: &str = "intra-domain all-reduce bus bandwidth: Azure AI-benchmarking-guide NCCL tables (ND H200 v5 479.98 GB/s with NVLS, ND A100 v4 231.58 GB/s); other fabrics: their per-direction link bandwidth (NVLink 2 150 GB/s, NVLink 5 twice NVLink 4, Infinity Fabric 448 GB/s on MI300X, PCIe x16 16/32/64 GB/s, TPU ICI 1,600 Gb/s (v5e) and 4,800 Gb/s (v5p) per chip from Google Cloud's TPU documentation, MI250X's dual Infinity Fabric link between packages 100 GB/s (C. Pearson, 'Interconnect Bandwidth Heterogeneity on AMD MI250x and Infinity Fabric', arXiv:2302.14827, 2023)) times A100's 0.77; TPU v4: Google Cloud's 'all-reduce bandwidth per Pod' 1.1 PB/s / 4,096 chips = 268.6 GB/s as is; networks: the DGX/HGX reference NICs (8 x 400 Gb/s NDR on H100/H200/B200, 8 x 200 Gb/s HDR on A100, 4 x 100 Gb/s EDR on DGX-1), Frontier's 200 Gb/s Slingshot NIC per MI250X, at 0.85 of line rate (assumption); TPU data-centre network 200 Gb/s per chip (assumption)";

/// The links of a catalog device.
pub fn links(device_id: &str) -> Option<Links> {
    LINKS
        .iter()
        .find(|e| e.ids.contains(&device_id))
        .map(|e| Links {
            domain: e.domain,
            intra_gbs: e.intra_gbs,
            network_gbs: e.network_gbs * NETWORK_EFFICIENCY,
            nvls: e.nvls,
        })
}
