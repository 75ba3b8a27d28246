// loadPersonData and loadPerfTestData config
var config = {
    connectTimeout: 15000,
    eventSource: { host: 'localhost', databaseName: 'sourceDb', user: 'user1', password: 'pass1' }
};
module.exports = config;
