// Converts the RBA login dataset (Wiefling et al., das-group/rba-dataset, CC BY 4.0) to the evaluation's
// input. The dataset has no device ids: a login's device is taken to be the pair (user, user-agent string),
// a proxy that favours attackers who copy the exact user agent. Successful logins only (a failed password
// never reaches risk-based authentication); labelled attack when `Is Account Takeover` is True.
export interface RbaRow {
  time: string;
  subject: string;
  ip: string;
  userAgent: string;
  success: boolean;
  takeover: boolean;
  attackIp: boolean;
}

const HEADER = [
  'index',
  'Login Timestamp',
  'User ID',
  'Round-Trip Time [ms]',
  'IP Address',
  'Country',
  'Region',
  'City',
  'ASN',
  'User Agent String',
  'Browser Name and Version',
  'OS Name and Version',
  'Device Type',
  'Login Successful',
  'Is Attack IP',
  'Is Account Takeover',
];

/** RFC 4180 fields of one line (quoted fields may hold commas and doubled quotes). */
export function csvFields(line: string): string[] {
  const fields: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let value = '';
      i++;
      while (i < line.length) {
        if (line[i] === '"' && line[i + 1] === '"') {
          value += '"';
          i += 2;
        } else if (line[i] === '"') {
          i++;
          break;
        } else value += line[i++];
      }
      fields.push(value);
      i++; // the comma
    } else {
      const end = line.indexOf(',', i);
      const stop = end === -1 ? line.length : end;
      fields.push(line.slice(i, stop));
      i = stop + 1;
    }
  }
  return fields;
}

export function parseRbaCsv(text: string, source: string): RbaRow[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = csvFields(lines[0] ?? '');
  if (header.join(',') !== HEADER.join(',')) {
    throw new Error(`${source}: not the RBA dataset header (expected ${HEADER.join(',')})`);
  }
  return lines.slice(1).map((line, i) => {
    const f = csvFields(line);
    if (f.length !== HEADER.length)
      throw new Error(`${source}: line ${i + 2}: ${f.length} fields, expected 16`);
    const time = new Date(`${f[1]!.replace(' ', 'T')}Z`);
    if (Number.isNaN(time.getTime())) throw new Error(`${source}: line ${i + 2}: bad timestamp ${f[1]}`);
    return {
      time: time.toISOString(),
      subject: f[2]!,
      ip: f[4]!,
      userAgent: f[9]!,
      success: f[13] === 'True',
      attackIp: f[14] === 'True',
      takeover: f[15] === 'True',
    };
  });
}

/** The evaluation's JSONL for the dataset's successful logins. */
export function rbaToAccessLines(rows: RbaRow[]): string[] {
  return rows
    .filter((r) => r.success)
    .map((r) =>
      JSON.stringify({
        time: r.time,
        subject: r.subject,
        ip: r.ip,
        userAgent: r.userAgent,
        deviceId: `${r.subject}:${fnv1a(r.userAgent)}`,
        label: r.takeover ? 'attack' : 'legit',
      }),
    );
}

function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}
