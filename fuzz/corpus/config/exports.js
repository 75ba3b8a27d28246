module.exports = {
  eventSource: { host: 'a:1', databaseName: 'b', password: 'p:w\\d' },
  replicationDestinations: [ { host: 'A:1', databaseName: 'c' }, { host: 'x', databaseName: 'B' } ],
  extra: [true, false, null, -0, .5, 'it\'s', "\uD83D\uDE00\u{1F600}\x41\
"],
}
