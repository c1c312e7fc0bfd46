//! Hardware profiles: the machines a replicated service runs on.
//!
//! The built-in catalog has three families at six sizes, 2 to 64 cores:
//! general purpose (`g-`), compute optimised (`c-`, faster cores, less
//! memory) and memory optimised (`m-`, more memory). **Prices are
//! illustrative list prices in dollars per hour, not a quote from any
//! provider**: override them with your own in `[profiles.NAME]`.

/// A machine type.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    /// Its name, such as `c-large`.
    pub name: String,
    /// CPU cores.
    pub cores: u32,
    /// Speed of one core relative to the reference core (1.0).
    pub cpu_speed: f64,
    /// Memory, in GiB.
    pub memory_gb: f64,
    /// Disk operations per second.
    pub disk_iops: f64,
    /// Network bandwidth, in gigabits per second.
    pub network_gbps: f64,
    /// Price, in dollars per hour (illustrative).
    pub cost_per_hour: f64,
}

/// Sizes: name suffix, cores, network gigabits per second.
const SIZES: [(&str, u32, f64); 6] = [
    ("large", 2, 0.75),
    ("xlarge", 4, 1.25),
    ("2xlarge", 8, 2.5),
    ("4xlarge", 16, 5.0),
    ("8xlarge", 32, 10.0),
    ("16xlarge", 64, 25.0),
];

/// Families: prefix, core speed, GiB per core, dollars per core-hour.
const FAMILIES: [(&str, f64, f64, f64); 3] = [
    ("g", 1.0, 4.0, 0.048),
    ("c", 1.2, 2.0, 0.0425),
    ("m", 1.0, 8.0, 0.063),
];

/// The built-in catalog, family by family, smallest first.
pub fn catalog() -> Vec<Profile> {
    let mut out = Vec::new();
    for (family, speed, gb_per_core, price_per_core) in FAMILIES {
        for (size, cores, gbps) in SIZES {
            out.push(Profile {
                name: format!("{family}-{size}"),
                cores,
                cpu_speed: speed,
                memory_gb: gb_per_core * f64::from(cores),
                disk_iops: 3000.0 + 500.0 * f64::from(cores),
                network_gbps: gbps,
                cost_per_hour: (price_per_core * f64::from(cores) * 10_000.0).round() / 10_000.0,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_spans_two_to_sixty_four_cores() {
        let c = catalog();
        assert_eq!(c.len(), 18);
        assert_eq!(c.iter().map(|p| p.cores).min(), Some(2));
        assert_eq!(c.iter().map(|p| p.cores).max(), Some(64));
        let large = c.iter().find(|p| p.name == "c-large").unwrap();
        assert_eq!((large.cores, large.cpu_speed), (2, 1.2));
        // Twice the cores, twice the price, within a family.
        let x = c.iter().find(|p| p.name == "g-xlarge").unwrap();
        let x2 = c.iter().find(|p| p.name == "g-2xlarge").unwrap();
        assert!((x2.cost_per_hour - 2.0 * x.cost_per_hour).abs() < 1e-9);
    }
}
