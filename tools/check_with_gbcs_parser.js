// Check dumped responses with an independent GBCS parser (SmartDCCInnovation/gbcs-parser).
//
// Usage:
//   smets-hil conformance RTDS/RTDS-4.5.0 --keys RTDS/keystore --dump OUT --export-keys KEYS
//   node tools/check_with_gbcs_parser.js PARSER_DIR KEYS OUT [RTDS/RTDS-4.5.0]
//
// PARSER_DIR is a built checkout of the parser (its dist/ folder, from `npm run build`
// or `tsc`); nothing of it is part of this repository. KEYS is the keystore that
// `--export-keys` wrote (the RTDS folder layout the parser's own tests read).
// Every dumped message is parsed with those keys: each MAC must be "valid", each
// signature "true", and each encrypted part must decrypt (the parser throws if a tag
// fails). With the reference folder, each response's grouping header is also compared
// with the reference response's: byte for byte, and allowing the values the device
// chooses itself (its clock reading, its own supplementary originator counter).
// Exit status 1 if any check fails.

'use strict'
const fs = require('fs')
const path = require('path')
const crypto = require('crypto')

const [parserDir, keysDir, dumpDir, rtdsDir] = process.argv.slice(2)
if (!parserDir || !keysDir || !dumpDir) {
  console.error('usage: node check_with_gbcs_parser.js PARSER_DIR KEYS DUMP [RTDS_DIR]')
  process.exit(2)
}
// parser.js, not index.js: the index also loads the tariff helper and its extra package
const { parseGbcsMessage } = require(path.resolve(parserDir, 'dist', 'parser.js'))
const ACB = '90B3D51F30000002'

const keys = new Map()
async function keyStore(eui, type, { privateKey, prePayment }) {
  if (typeof eui === 'object') eui = Buffer.from(eui).toString('hex')
  eui = eui.replaceAll('-', '').replaceAll(' ', '').toLowerCase()
  const pp = prePayment ? '-pp' : ''
  const name = `${eui}${pp}-${type.toLowerCase()}.${privateKey ? 'key' : 'pem'}`
  if (!keys.has(name)) {
    const pem = fs.readFileSync(path.join(keysDir, name), 'utf-8')
    keys.set(name, privateKey ? crypto.createPrivateKey(pem) : crypto.createPublicKey(pem))
  }
  return keys.get(name)
}

function items(node, prefix, out) {
  for (const [name, child] of Object.entries(node.children || {})) {
    out.push([prefix + name, child])
    items(child, prefix + name + '/', out)
  }
  return out
}

function berLength(b, i) {
  if (b[i] < 0x80) return [b[i], i + 1]
  const n = b[i] & 0x7f
  return [b.subarray(i + 1, i + 1 + n).reduce((a, x) => a * 256 + x, 0), i + 1 + n]
}

// The grouping header from DF to the end of the other-information, and its parts.
function groupingHeader(hex) {
  const b = Buffer.from(hex.trim(), 'hex')
  let g = 0
  if (b[0] === 0xdd) g = berLength(b, 7)[1] + 5
  let i = g + 29
  const dateTime = b[i] === 0x0c ? b.subarray(i, i + 13) : b.subarray(i, i + 1)
  i += dateTime.length
  const [length, start] = berLength(b, i)
  return { fixed: b.subarray(g, g + 29), dateTime, other: b.subarray(i, start + length) }
}

function sameButChosenValues(a, b) {
  if (!a.fixed.equals(b.fixed) || a.dateTime.length !== b.dateTime.length) return false
  if (a.dateTime.length === 13) {
    // which fields are given, deviation and clock status: not the reading itself
    const shape = (d) => [...d.subarray(1, 10)].map((x) => x === 0xff).concat([d[10], d[11], d[12]]).join()
    if (shape(a.dateTime) !== shape(b.dateTime)) return false
  }
  if (a.other.length === b.other.length && a.other.length === 27) {
    return a.other.subarray(0, 19).equals(b.other.subarray(0, 19))
  }
  return a.other.equals(b.other)
}

async function main() {
  const references = new Map()
  if (rtdsDir) {
    const walk = (dir) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name)
        if (e.isDirectory()) walk(p)
        else if (e.name.endsWith('_RESPONSE_GBCS.HEX')) references.set(e.name, p)
      }
    }
    walk(rtdsDir)
  }
  const tally = {
    responses: 0, parsed: 0, macs_valid: 0, signatures_valid: 0, decrypted_parts: 0,
    headers_identical: 0, headers_identical_but_chosen_values: 0, failures: 0,
  }
  const files = fs.readdirSync(dumpDir).filter((f) => f.endsWith('.HEX')).sort()
  for (const file of files) {
    tally.responses++
    const text = fs.readFileSync(path.join(dumpDir, file), 'utf-8')
    let parsed
    try {
      parsed = await parseGbcsMessage(text.trim(), keyStore, ACB)
      tally.parsed++
    } catch (err) {
      tally.failures++
      console.log(`FAILED ${file}: ${err.message}`)
      continue
    }
    let checked = false
    for (const [name, item] of Object.entries(parsed).flatMap(([t, b]) => items(b, t + '/', []))) {
      if (name === 'MAC/MAC') {
        checked = true
        if (item.notes === 'valid') tally.macs_valid++
        else (tally.failures++, console.log(`FAILED ${file}: MAC ${item.notes}`))
      }
      if (name === 'Signature/Valid') {
        checked = true
        if (item.notes === 'true') tally.signatures_valid++
        else (tally.failures++, console.log(`FAILED ${file}: signature does not verify`))
      }
    }
    if (!checked) (tally.failures++, console.log(`FAILED ${file}: neither MAC nor signature`))
    tally.decrypted_parts += Object.keys(parsed).filter((t) => t.startsWith('Decrypted')).length
    const reference = references.get(file)
    if (reference) {
      const ours = groupingHeader(text)
      const theirs = groupingHeader(fs.readFileSync(reference, 'utf-8'))
      const identical = ours.fixed.equals(theirs.fixed) && ours.dateTime.equals(theirs.dateTime) &&
        ours.other.equals(theirs.other)
      if (identical) tally.headers_identical++
      if (sameButChosenValues(ours, theirs)) tally.headers_identical_but_chosen_values++
      else console.log(`HEADER DIFFERS ${file}`)
    }
  }
  console.log(JSON.stringify(tally, null, 1))
  process.exit(tally.failures ? 1 : 0)
}

main()
