// eventsDiff config
var config = {
    maxEventsPerRead: 50000,
    maxDiffs: 100,
    connectTimeout: 15000,
    events1Params: { host: 'localhost', databaseName: 'sourceDb', user: 'user1', password: 'pass1' },
    events2Params: { host: 'db2:5433', databaseName: 'dest1', user: 'u', password: 'p' }
};
module.exports = config;
