/// The built-in configuration; identical to `config/yidang.default.yaml` (a test keeps them equal).
enum DefaultConfiguration {
    static let yaml = #"""
# Yidang default configuration (一数一源). Copy, edit, and pass with --config.
# Schema: Schemas/configuration.schema.json
version: 1
departments:
  gongan: 公安
  minzheng: 民政
  renshe: 人社
  weijian: 卫健
  yibao: 医保
  zhujian: 住建/房管
  scjg: 市场监管
  shuiwu: 税务
  tongji: 统计
  jiaoyu: 教育
  renhang: 人行
entities:
  person:
    identifier: citizenId
    attributes:
      name:             { type: text, sensitivity: L2, precedence: [gongan] }
      gender:           { type: code, values: ["0", "1", "2", "9"], sensitivity: L2, precedence: [gongan] }
      ethnicity:        { type: text, sensitivity: L3, precedence: [gongan] }
      birthDate:        { type: date, sensitivity: L3, precedence: [gongan] }
      householdAddress: { type: text, sensitivity: L3, precedence: [gongan] }
      regionCode:       { type: regionCode, sensitivity: L1, precedence: [gongan] }
      residenceAddress: { type: text, sensitivity: L3, precedence: [zhujian, gongan] }
      phone:            { type: phone, sensitivity: L3, precedence: [] }
      maritalStatus:    { type: text, sensitivity: L3, precedence: [minzheng, gongan] }
      education:        { type: text, sensitivity: L2, precedence: [jiaoyu, renshe] }
      employer:         { type: creditCode, sensitivity: L2, precedence: [renshe], link: enterprise }
      socialInsurance:  { type: text, sensitivity: L3, precedence: [renshe] }
      medicalInsurance: { type: text, sensitivity: L3, precedence: [yibao] }
      status:           { type: code, values: [alive, deceased, moved-out], sensitivity: L2, precedence: [weijian, minzheng, gongan] }
      deathDate:        { type: date, sensitivity: L3, precedence: [weijian, minzheng, gongan] }
  enterprise:
    identifier: creditCode
    attributes:
      name:                { type: text, sensitivity: L1, precedence: [scjg] }
      type:                { type: text, sensitivity: L1, precedence: [scjg] }
      legalRepresentative: { type: citizenId, sensitivity: L3, precedence: [scjg], link: person }
      registeredAddress:   { type: text, sensitivity: L1, precedence: [scjg] }
      regionCode:          { type: regionCode, sensitivity: L1, precedence: [scjg] }
      businessScope:       { type: text, sensitivity: L1, precedence: [scjg] }
      registeredCapital:   { type: decimal, sensitivity: L1, precedence: [scjg] }
      establishedDate:     { type: date, sensitivity: L1, precedence: [scjg] }
      status:              { type: text, sensitivity: L1, precedence: [scjg] }
      taxStatus:           { type: text, sensitivity: L2, precedence: [shuiwu] }
      insuredEmployees:    { type: integer, sensitivity: L2, precedence: [renshe] }
      phone:               { type: phone, sensitivity: L2, precedence: [] }
# Verification without disclosure (POST /v1/verify), against enumeration: claims a
# verifier token may check per minute (429 with Retry-After beyond), and how many
# verifications with a mismatch on one subject within the window flag the audit trail.
verification:
  claimsPerMinute: 60
  mismatchAlert: 5
  alertWindowMinutes: 10
# Identity resolution of records without a national identifier (person/local/<key>):
# the attributes compared and their comparators (exact, text, name, date, phone, address,
# number), the blocking keys that choose candidates, and the match probabilities for an
# automatic link and for a review task. A key of one attribute grows with the city (a
# birth date is shared by 44 of a million people): the person keys combine two.
matching:
  person:
    compare: { name: name, birthDate: date, gender: exact, phone: phone, residenceAddress: address }
    block: [[name, birthDate], [phone], [name, residenceAddress]]
    link: 0.98
    review: 0.70
  enterprise:
    compare: { name: name, registeredAddress: address, legalRepresentative: exact, phone: phone }
    block: [[name], [phone], [legalRepresentative]]
    link: 0.98
    review: 0.70
# Business event types mapped onto attributes.
businessTypes:
  person.deceased:        { entity: person, set: { status: deceased }, attributes: [deathDate] }
  person.moved-out:       { entity: person, set: { status: moved-out }, attributes: [] }
  enterprise.deregistered: { entity: enterprise, set: { status: deregistered }, attributes: [] }
"""#
}
