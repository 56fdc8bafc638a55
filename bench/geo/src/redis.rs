//! Redis 7 GEOSEARCH over RESP on a plain TCP socket (no client library needed for two
//! commands).

use std::{
    io::{BufRead, BufReader, Write},
    net::TcpStream,
    time::Instant,
};

use kreki_emergency::geo::LatLng;

use crate::{K, RADIUS_M, Stats, data::Volunteer, stats};

struct Resp {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

#[derive(Debug)]
#[allow(dead_code)] // parsed for completeness; the benchmark reads only some replies
enum Value {
    Simple(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Value>),
}

impl Resp {
    fn connect(addr: &str) -> anyhow::Result<Resp> {
        let w = TcpStream::connect(addr)?;
        w.set_nodelay(true)?;
        Ok(Resp {
            r: BufReader::new(w.try_clone()?),
            w,
        })
    }

    fn encode(buf: &mut Vec<u8>, args: &[&[u8]]) {
        buf.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            buf.extend_from_slice(a);
            buf.extend_from_slice(b"\r\n");
        }
    }

    fn read(&mut self) -> anyhow::Result<Value> {
        let mut line = String::new();
        self.r.read_line(&mut line)?;
        let line = line.trim_end();
        let (t, rest) = line.split_at(1);
        Ok(match t {
            "+" => Value::Simple(rest.into()),
            "-" => anyhow::bail!("redis error: {rest}"),
            ":" => Value::Int(rest.parse()?),
            "$" => {
                let n: i64 = rest.parse()?;
                if n < 0 {
                    Value::Bulk(None)
                } else {
                    let mut b = vec![0; n as usize + 2];
                    std::io::Read::read_exact(&mut self.r, &mut b)?;
                    b.truncate(n as usize);
                    Value::Bulk(Some(b))
                }
            }
            "*" => {
                let n: i64 = rest.parse()?;
                let mut v = Vec::new();
                for _ in 0..n.max(0) {
                    v.push(self.read()?);
                }
                Value::Array(v)
            }
            _ => anyhow::bail!("unexpected RESP: {line}"),
        })
    }

    fn cmd(&mut self, args: &[&[u8]]) -> anyhow::Result<Value> {
        let mut buf = Vec::new();
        Self::encode(&mut buf, args);
        self.w.write_all(&buf)?;
        self.read()
    }
}

pub fn run(vols: &[Volunteer], queries: &[LatLng]) -> anyhow::Result<Stats> {
    let mut c = Resp::connect("127.0.0.1:6379")?;
    let key = format!("kreki:bench:onduty:{}", std::process::id());
    c.cmd(&[b"DEL", key.as_bytes()])?;
    let on: Vec<&Volunteer> = vols.iter().filter(|v| v.on_duty).collect();
    for chunk in on.chunks(1_000) {
        let coords: Vec<(String, String, String)> = chunk
            .iter()
            .map(|v| {
                (
                    format!("{:.6}", f64::from(v.lng_e6) / 1e6),
                    format!("{:.6}", f64::from(v.lat_e6) / 1e6),
                    v.id.to_string(),
                )
            })
            .collect();
        let mut args: Vec<&[u8]> = vec![b"GEOADD", key.as_bytes()];
        for (lng, lat, id) in &coords {
            args.extend_from_slice(&[lng.as_bytes(), lat.as_bytes(), id.as_bytes()]);
        }
        c.cmd(&args)?;
    }
    if let Value::Int(bytes) = c.cmd(&[b"MEMORY", b"USAGE", key.as_bytes(), b"SAMPLES", b"0"])? {
        println!(
            "redis: {} on-duty volunteers, MEMORY USAGE {:.1} bytes per volunteer",
            on.len(),
            bytes as f64 / on.len() as f64
        );
    }
    let n = 20_000.min(queries.len());
    let radius = format!("{RADIUS_M}");
    let count = K.to_string();
    let mut lat = Vec::with_capacity(n);
    let wall = Instant::now();
    for q in queries.iter().take(n) {
        let (lng, la) = (format!("{:.6}", q.lng()), format!("{:.6}", q.lat()));
        let t = Instant::now();
        let v = c.cmd(&[
            b"GEOSEARCH",
            key.as_bytes(),
            b"FROMLONLAT",
            lng.as_bytes(),
            la.as_bytes(),
            b"BYRADIUS",
            radius.as_bytes(),
            b"m",
            b"ASC",
            b"COUNT",
            count.as_bytes(),
        ])?;
        lat.push(t.elapsed().as_nanos() as u64);
        std::hint::black_box(v);
    }
    let s = stats(lat, wall.elapsed());
    c.cmd(&[b"DEL", key.as_bytes()])?;
    if let Value::Simple(_) | Value::Bulk(_) | Value::Array(_) = c.cmd(&[b"PING"])? {}
    Ok(s)
}
